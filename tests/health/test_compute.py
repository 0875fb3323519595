"""The health and outage figures computed by hand on small fixture frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from collector.site_health import compute
from tests.cost.support import LA, at, utc

NAMEPLATE = 13_500.0


def _buckets(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Buckets at local LA instants -> fields."""
    index = pd.DatetimeIndex([at(t, LA) for t in rows]).as_unit("ns")
    return pd.DataFrame(list(rows.values()), index=index)


def test_efficiency_is_trailing_30_local_days_and_cycles_use_nameplate():
    # day 1 (2024-03-01): out 5000, in 4000 grid + 2000 solar; day 31 (2024-03-31, 30 days
    # later): out 1000, in 500 solar; day 32: out 2000, in 1000 generator.
    buckets = _buckets({
        "2024-03-01 10:00": {"battery_energy_exported": 2000.0,
                             "battery_energy_imported_from_grid": 4000.0},
        "2024-03-01 18:00": {"battery_energy_exported": 3000.0,
                             "battery_energy_imported_from_solar": 2000.0},
        "2024-03-30 12:00": {"battery_energy_exported": 1000.0,
                             "battery_energy_imported_from_solar": 500.0},
        "2024-03-31 12:00": {"battery_energy_exported": 2000.0,
                             "battery_energy_imported_from_generator": 1000.0},
    })
    frame = compute.health_frame(buckets, pd.DataFrame(), LA, NAMEPLATE,
                                 at("2024-03-01", LA), at("2024-04-01", LA))
    days = [at(d, LA) for d in ("2024-03-01", "2024-03-30", "2024-03-31")]
    assert list(frame.index) == days
    # 03-30 is the 30th day of a window starting 03-01: (5000 + 1000) / (6000 + 500)
    # 03-31's window starts 03-02: (1000 + 2000) / (500 + 1000)
    assert frame["round_trip_efficiency"].tolist() == [5000 / 6000, 6000 / 6500, 3000 / 1500]
    assert frame["cycles"].tolist() == [5000 / NAMEPLATE, 1000 / NAMEPLATE, 2000 / NAMEPLATE]
    assert frame["capacity_wh"].isna().all()


def _live(samples: list[tuple[str, dict[str, float]]]) -> pd.DataFrame:
    index = pd.DatetimeIndex([at(t, LA) for t, _ in samples]).as_unit("ns")
    return pd.DataFrame([v for _, v in samples], index=index)


def test_capacity_is_the_day_max_of_plausible_pack_energy():
    live = _live([
        ("2024-05-01 08:00", {"total_pack_energy": 13_000.0}),
        ("2024-05-01 09:00", {"total_pack_energy": 13_200.0}),
        ("2024-05-01 10:00", {"total_pack_energy": 1.0}),      # a real site's placeholder
        ("2024-05-01 11:00", {"total_pack_energy": 40_000.0}),  # over 150 % of nameplate
        ("2024-05-02 08:00", {"total_pack_energy": 1.0}),
    ])
    frame = compute.health_frame(pd.DataFrame(), live, LA, NAMEPLATE,
                                 at("2024-05-01", LA), at("2024-05-03", LA))
    assert list(frame.index) == [at("2024-05-01", LA)]
    assert frame["capacity_wh"].tolist() == [13_200.0]
    assert frame["capacity_percent"].tolist() == [13_200.0 / NAMEPLATE * 100]


def _swing_day(day: str, socs: list[float], powers: list[float],
               minutes: int = 5) -> list[tuple[str, dict[str, float]]]:
    start = pd.Timestamp(f"{day} 18:00")
    return [(str(start + pd.Timedelta(minutes=minutes * i)),
             {"percentage_charged": s, "battery_power": p})
            for i, (s, p) in enumerate(zip(socs, powers, strict=True))]


def test_capacity_from_a_large_soc_swing_when_pack_energy_is_absent():
    # 2024-06-01: SoC 90 -> 92 (charging) -> 80 -> 68 -> 70 over 5-minute samples; the
    # largest drop is 92 -> 68 = 24 points between samples 1 and 3.
    # Powers at samples 1..3: 6000, 12000, 6000 W -> trapezoid over two 5-minute steps:
    # (6000+12000)/2*300 + (12000+6000)/2*300 = 5_400_000 Ws = 1500 Wh -> 1500/24*100 = 6250
    day1 = _swing_day("2024-06-01", [90, 92, 80, 68, 70], [-2000, 6000, 12000, 6000, -3000])
    # 2024-06-02: only a 15-point drop: no estimate
    day2 = _swing_day("2024-06-02", [90, 75], [9000, 9000])
    # 2024-06-03: a 30-point drop, but with a 30-minute gap between samples: no estimate
    day3 = _swing_day("2024-06-03", [90, 60], [9000, 9000], minutes=30)
    live = _live(day1 + day2 + day3)
    frame = compute.health_frame(pd.DataFrame(), live, LA, NAMEPLATE,
                                 at("2024-06-01", LA), at("2024-06-04", LA))
    assert list(frame.index) == [at("2024-06-01", LA)]
    assert frame["capacity_wh"].iloc[0] == pytest.approx(1500 / 24 * 100, rel=1e-12)
    assert frame["capacity_percent"].iloc[0] == pytest.approx(6250 / NAMEPLATE * 100)


def test_pack_energy_wins_over_a_swing_on_the_same_day():
    live = _live(_swing_day("2024-06-01", [90, 60], [9000, 9000])
                 + [("2024-06-01 20:00", {"total_pack_energy": 12_000.0})])
    frame = compute.health_frame(pd.DataFrame(), live, LA, NAMEPLATE,
                                 at("2024-06-01", LA), at("2024-06-02", LA))
    assert frame["capacity_wh"].tolist() == [12_000.0]


def test_outage_energy_counts_partial_buckets_by_their_covered_share():
    # 5-minute buckets 10:00, 10:05, 10:10, 10:15; outage 10:02 .. 10:12 (600 s):
    # 3/5 of 10:00, all of 10:05, 2/5 of 10:10, nothing of 10:15.
    index = pd.date_range(utc("2024-07-01 10:00"), periods=4, freq="5min")
    buckets = pd.DataFrame({"total_home_usage": [100.0, 200.0, 300.0, 400.0],
                            "battery_energy_exported": [50.0, 150.0, 250.0, 350.0],
                            "solar_energy_exported": [10.0, 20.0, 30.0, 40.0]}, index=index)
    live = pd.DataFrame({"percentage_charged": [80.0, 79.0, 70.0, 60.0]}, index=pd.DatetimeIndex(
        [utc("2024-07-01 09:55"), utc("2024-07-01 10:03"), utc("2024-07-01 10:11"),
         utc("2024-07-01 10:30")]))
    events = pd.DataFrame({"duration_seconds": [600.0, 60.0]},
                          index=pd.DatetimeIndex([utc("2024-07-01 10:02"),
                                                  utc("2024-07-02 10:00")]))
    frame = compute.outage_frame(events, buckets, live)
    first = frame.iloc[0]
    assert first["home_usage_wh"] == pytest.approx(100 * 3 / 5 + 200 + 300 * 2 / 5)
    assert first["battery_energy_wh"] == pytest.approx(50 * 3 / 5 + 150 + 250 * 2 / 5)
    assert first["solar_energy_wh"] == pytest.approx(10 * 3 / 5 + 20 + 30 * 2 / 5)
    assert (first["soc_start"], first["soc_end"]) == (79.0, 70.0)  # nearest: 10:03, 10:11
    second = frame.iloc[1]  # no buckets, no live samples near it
    assert all(math.isnan(v) for v in second.to_numpy())


def test_soc_further_than_the_tolerance_is_absent():
    events = pd.DataFrame({"duration_seconds": [3600.0]},
                          index=pd.DatetimeIndex([utc("2024-07-01 10:00")]))
    live = pd.DataFrame({"percentage_charged": [50.0]},
                        index=pd.DatetimeIndex([utc("2024-07-01 10:10")]))
    frame = compute.outage_frame(events, pd.DataFrame(), live)
    assert frame["soc_start"].iloc[0] == 50.0 and np.isnan(frame["soc_end"].iloc[0])
