"""Charge session cost (energy spread over the minutes it spans) and solar share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from collector.cost.sessions import session_costs, solar_shares
from tests.cost.support import LA, at, day_index, energy, three_season, timeline


def sessions(*items: tuple[pd.Timestamp, float, float | None]) -> pd.DataFrame:
    return pd.DataFrame({"energy_added_wh": [e for _, e, _ in items],
                         "duration_seconds": [d for _, _, d in items]},
                        index=pd.DatetimeIndex([t for t, _, _ in items]))


def test_a_session_across_a_period_boundary_is_priced_by_each_period():
    found = session_costs(sessions(
        (at("2024-07-17 15:50", LA), 6000.0, 1800.0),  # 10 min partial, 20 min peak
        (at("2024-07-17 15:55:30", LA), 1200.0, 600.0),  # 270 s partial, 330 s peak
        (at("2024-07-17 10:00", LA), 3000.0, None),  # no duration: priced at its start
    ), timeline(three_season()), LA)
    # 2000 Wh x 0.42 + 4000 Wh x 0.55 = 0.84 + 2.2
    assert found[0] == pytest.approx(3.04, abs=1e-9)
    # 540 Wh x 0.42 + 660 Wh x 0.55
    assert found[1] == pytest.approx(0.2268 + 0.363, abs=1e-9)
    assert found[2] == pytest.approx(3.0 * 0.33, abs=1e-9)


def test_a_session_with_unknown_energy_or_an_unpriced_minute_has_no_cost():
    content = three_season()
    del content["energy_charges"]["Summer"]["rates"]["ON_PEAK"]
    found = session_costs(sessions((at("2024-07-17 15:50", LA), 6000.0, 1800.0),
                                   (at("2024-07-17 10:00", LA), float("nan"), 60.0)),
                          timeline(content), LA)
    assert np.isnan(found).all()


def test_solar_share_over_the_buckets_the_session_overlaps():
    index = day_index("2024-07-17", LA)
    buckets = energy(index, home=400.0, solar_to_home=100.0)
    buckets.loc[at("2024-07-17 12:05", LA), "consumer_energy_imported_from_solar"] = 400.0
    found = solar_shares(sessions(
        (at("2024-07-17 12:02", LA), 1000.0, 360.0),  # 12:02-12:08: buckets 12:00 and 12:05
        (at("2024-07-17 03:00", LA), 1000.0, 0.0),  # the bucket holding its start
        (at("2024-07-18 03:00", LA), 1000.0, 600.0),  # no bucket stored
    ), buckets)
    assert found[0] == pytest.approx((100 + 400) / 800)
    assert found[1] == pytest.approx(0.25)
    assert np.isnan(found[2])
