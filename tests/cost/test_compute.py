"""Prices and costs per bucket, against hand-computed expectations (1e-9 per bucket).

The expected numbers are worked out in the comments from the tariff as written in
``support``: e.g. a summer weekday is 15 h off-peak (0.33), 1 h partial (0.42) before the
5 h peak (0.55) and 3 h partial after it, 12 five-minute buckets per hour.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from collector.cost.compute import bucket_costs, energy_cost_frame
from collector.tariff import errors, load_tariff, validate
from collector.transform import to_line_protocol
from tests.cost.support import (
    ADELAIDE,
    LA,
    WEEK,
    at,
    day_index,
    energy,
    fixture,
    minutes_span,
    span,
    tariff,
    three_season,
    timeline,
    utc,
)

TOLERANCE = 1e-9


def costs_of(content, day: str, zone: str = LA, **amounts):
    return bucket_costs(energy(day_index(day, zone), **amounts), timeline(content), zone).data


def price(data: pd.DataFrame, instant: pd.Timestamp, column: str = "buy_price") -> float:
    return float(data.loc[instant, column])


def test_the_test_tariffs_are_valid_tariffs():
    """Only the AUD currency of the Adelaide tariff is refused (Tesla takes USD, EUR, GBP for
    uploads, but real site tariffs come in AUD too)."""
    for content in (three_season(), dst_tariff(), adelaide_tariff(), negative_tariff()):
        found = [p.message for p in errors(validate(load_tariff(content)))]
        assert [m for m in found if not m.startswith("currency is 'AUD'")] == []


def test_summer_weekday_of_a_three_season_tou_with_a_sell_tariff():
    data = costs_of(three_season(), "2024-07-17")  # a Wednesday
    assert len(data) == 288
    # buy: 12 x (15 x 0.33 + 1 x 0.42 + 5 x 0.55 + 3 x 0.42) = 12 x 9.38 = 112.56 per Wh/1000
    assert data["import_cost"].sum() == pytest.approx(0.1 * 112.56, abs=TOLERANCE)
    # sell: 12 x (15 x 0.04 + 1 x 0.08 + 5 x 0.12 + 3 x 0.08) = 12 x 1.52 = 18.24
    assert data["export_credit"].sum() == pytest.approx(0.05 * 18.24, abs=TOLERANCE)
    assert data["baseline_cost"].sum() == pytest.approx(0.3 * 112.56, abs=TOLERANCE)
    assert data["net_cost"].sum() == pytest.approx(11.256 - 0.912, abs=TOLERANCE)
    assert data["savings"].sum() == pytest.approx(33.768 - 10.344, abs=TOLERANCE)
    for local, buy, sell in (("2024-07-17 14:55", 0.33, 0.04), ("2024-07-17 15:00", 0.42, 0.08),
                             ("2024-07-17 16:00", 0.55, 0.12), ("2024-07-17 20:55", 0.55, 0.12),
                             ("2024-07-17 21:00", 0.42, 0.08), ("2024-07-17 23:55", 0.42, 0.08)):
        bucket = data.loc[at(local, LA)]
        assert (bucket["buy_price"], bucket["sell_price"]) == (buy, sell), local
        assert bucket["import_cost"] == pytest.approx(100 / 1000 * buy, abs=TOLERANCE)
        assert bucket["export_credit"] == pytest.approx(50 / 1000 * sell, abs=TOLERANCE)
        assert bucket["baseline_cost"] == pytest.approx(300 / 1000 * buy, abs=TOLERANCE)
        assert bucket["net_cost"] == pytest.approx((100 * buy - 50 * sell) / 1000, abs=TOLERANCE)
        assert (data.loc[at(local, LA), "season"], data.loc[at(local, LA), "version"]) == (
            "Summer", 0)


def test_summer_weekend_has_no_on_peak():
    data = costs_of(three_season(), "2024-07-20")  # a Saturday
    assert price(data, at("2024-07-20 16:00", LA)) == 0.42
    assert price(data, at("2024-07-20 21:00", LA)) == 0.33
    assert set(data["period"]) == {"PARTIAL_PEAK", "OFF_PEAK"}


def test_winter_day_of_the_three_season_tou():
    data = costs_of(three_season(), "2024-01-17")
    # buy: 12 x (3 x 0.45 + 21 x 0.30) = 91.8; sell: 12 x (3 x 0.10 + 21 x 0.03) = 11.16
    assert data["import_cost"].sum() == pytest.approx(0.1 * 91.8, abs=TOLERANCE)
    assert data["export_credit"].sum() == pytest.approx(0.05 * 11.16, abs=TOLERANCE)
    assert price(data, at("2024-01-17 16:55", LA)) == 0.30
    assert price(data, at("2024-01-17 17:00", LA)) == 0.45
    assert set(data["season"]) == {"Winter"}


def test_flat_all_tariff_prices_every_bucket_the_same():
    index = day_index("2024-05-05", LA)
    frame = energy(index)
    frame["grid_energy_imported"] = np.arange(len(index), dtype=float)  # 0, 1, 2 ... Wh
    data = bucket_costs(frame, timeline(fixture("flat")), LA).data
    assert set(data["buy_price"]) == {0.3} and set(data["sell_price"]) == {0.05}
    expected = np.arange(len(index)) / 1000 * 0.3
    assert np.abs(data["import_cost"].to_numpy() - expected).max() <= TOLERANCE
    assert data["export_credit"].sum() == pytest.approx(288 * 0.05 * 0.05, abs=TOLERANCE)


def dst_tariff() -> dict:
    """One season; NIGHT 01:30-06:00 at 0.10, OFF_PEAK the rest (06:00-01:30) at 0.30."""
    periods = {"NIGHT": [minutes_span(WEEK, (1, 30), (6, 0))],
               "OFF_PEAK": [minutes_span(WEEK, (6, 0), (1, 30))]}
    return tariff({"Year": (1, 12, periods)}, buy={"Year": {"NIGHT": 0.10, "OFF_PEAK": 0.30}},
                  sell={"Year": {"NIGHT": 0.0, "OFF_PEAK": 0.0}}, name="Night")


def test_fall_back_day_prices_the_repeated_hour_by_the_wall_clock():
    data = costs_of(dst_tariff(), "2024-11-03")
    assert len(data) == 300
    # 01:25 and 01:30 PDT, then the same wall times again in PST: the boundary at 01:30 is
    # crossed twice.
    assert price(data, utc("2024-11-03 08:25")) == 0.30  # 01:25 PDT
    assert price(data, utc("2024-11-03 08:30")) == 0.10  # 01:30 PDT
    assert price(data, utc("2024-11-03 09:25")) == 0.30  # 01:25 PST
    assert price(data, utc("2024-11-03 09:30")) == 0.10  # 01:30 PST
    # off-peak: 00:00-01:30 (18) + the second 01:00-01:30 (6) + 06:00-24:00 (216) = 240;
    # night: 01:30-02:00 twice (12) + 02:00-06:00 (48) = 60
    assert (data["buy_price"] == 0.30).sum() == 240 and (data["buy_price"] == 0.10).sum() == 60
    assert data["import_cost"].sum() == pytest.approx(0.1 * (240 * 0.30 + 60 * 0.10),
                                                      abs=TOLERANCE)


def test_spring_forward_day_skips_the_missing_hour():
    data = costs_of(dst_tariff(), "2024-03-10")
    assert len(data) == 276
    assert price(data, utc("2024-03-10 09:25")) == 0.30  # 01:25 PST
    assert price(data, utc("2024-03-10 09:55")) == 0.10  # 01:55 PST
    assert price(data, utc("2024-03-10 10:00")) == 0.10  # 03:00 PDT
    assert price(data, utc("2024-03-10 13:00")) == 0.30  # 06:00 PDT
    # off-peak: 00:00-01:30 (18) + 06:00-24:00 (216) = 234; night: 01:30-02:00 (6) + 03-06 (36)
    assert data["import_cost"].sum() == pytest.approx(0.1 * (234 * 0.30 + 42 * 0.10),
                                                      abs=TOLERANCE)


def adelaide_tariff() -> dict:
    periods = {"ON_PEAK": [span(WEEK, 7, 22)], "OFF_PEAK": [span(WEEK, 22, 7)]}
    return tariff({"Year": (1, 12, periods)}, buy={"Year": {"ON_PEAK": 0.40, "OFF_PEAK": 0.20}},
                  name="Adelaide", currency="AUD")


def test_half_hour_zone_periods_start_on_the_local_hour():
    data = costs_of(adelaide_tariff(), "2024-06-12", ADELAIDE)  # ACST, UTC+9:30
    assert price(data, utc("2024-06-11 21:25")) == 0.20  # 06:55 local
    assert price(data, utc("2024-06-11 21:30")) == 0.40  # 07:00 local
    assert price(data, utc("2024-06-12 12:25")) == 0.40  # 21:55 local
    assert price(data, utc("2024-06-12 12:30")) == 0.20  # 22:00 local
    assert data["sell_price"].eq(0.0).all() and data["export_credit"].eq(0.0).all()
    # 15 h peak (180 buckets) and 9 h off-peak (108)
    assert data["import_cost"].sum() == pytest.approx(0.1 * (180 * 0.4 + 108 * 0.2),
                                                      abs=TOLERANCE)
    assert set(data["currency"]) == {"AUD"}


def test_half_hour_zone_dst_day():
    data = costs_of(adelaide_tariff(), "2024-10-06", ADELAIDE)  # 02:00 -> 03:00
    assert len(data) == 276
    # off-peak 00-02 (24) + 03-07 (48) + 22-24 (24) = 96, peak 180
    assert data["import_cost"].sum() == pytest.approx(0.1 * (180 * 0.4 + 96 * 0.2),
                                                      abs=TOLERANCE)


def flat(price_per_kwh: float, name: str, **extra) -> dict:
    return tariff({"Year": (1, 12, {"OFF_PEAK": [span(WEEK, 0, 0)]})},
                  buy={"Year": {"OFF_PEAK": price_per_kwh}}, name=name, **extra)


def test_a_mid_month_tariff_change_prices_each_side_with_its_own_version():
    old, new = flat(0.30, "Old"), flat(0.40, "New")
    change = at("2024-06-15 12:00", LA)
    line = timeline(old, new, starts=(int(at("2024-06-01 00:00", LA).timestamp()),
                                      int(change.timestamp())))
    index = day_index("2024-06-15", LA)
    data = bucket_costs(energy(index), line, LA).data
    before, after = data[data.index < change], data[data.index >= change]
    assert len(before) == len(after) == 144
    assert set(before["buy_price"]) == {0.30} and set(after["buy_price"]) == {0.40}
    assert set(before["tariff_sha256"]) == {line.versions[0].sha256}
    assert set(after["tariff_sha256"]) == {line.versions[1].sha256}
    assert data["import_cost"].sum() == pytest.approx(144 * 0.1 * 0.30 + 144 * 0.1 * 0.40,
                                                      abs=TOLERANCE)
    assert not data["assumed"].any()


def negative_tariff() -> dict:
    """Midday buy price below zero and below the sell price."""
    periods = {"MIDDAY": [span(WEEK, 10, 14)], "OFF_PEAK": [span(WEEK, 14, 10)]}
    return tariff({"Year": (1, 12, periods)}, buy={"Year": {"MIDDAY": -0.05, "OFF_PEAK": 0.25}},
                  sell={"Year": {"MIDDAY": 0.08, "OFF_PEAK": 0.05}}, name="Negative")


def test_negative_and_buy_below_sell_prices_are_priced_as_the_tariff_says():
    data = costs_of(negative_tariff(), "2024-04-10", imported=200.0, exported=400.0)
    bucket = data.loc[at("2024-04-10 11:00", LA)]
    assert (bucket["buy_price"], bucket["sell_price"]) == (-0.05, 0.08)
    assert bucket["import_cost"] == pytest.approx(-0.01, abs=TOLERANCE)
    assert bucket["export_credit"] == pytest.approx(0.032, abs=TOLERANCE)
    assert bucket["net_cost"] == pytest.approx(-0.042, abs=TOLERANCE)


def test_no_sell_tariff_credits_nothing_and_an_unpriced_period_is_counted():
    content = adelaide_tariff()
    del content["energy_charges"]["Year"]["rates"]["OFF_PEAK"]  # invalid on purpose
    costs = bucket_costs(energy(day_index("2024-06-12", ADELAIDE)), timeline(content), ADELAIDE)
    assert costs.unpriced == 108
    frame = energy_cost_frame(costs, 42)
    assert len(frame) == 180 and frame.data["export_credit"].eq(0.0).all()


def test_energy_cost_points_are_tagged_and_typed_by_the_schema():
    costs = bucket_costs(energy(day_index("2024-07-17", LA)), timeline(three_season()), LA)
    lines = to_line_protocol(energy_cost_frame(costs, 42))
    assert len(lines) == 288
    head, fields, stamp = lines[192].split(" ")
    assert head == "energy_cost,site_id=42,currency=USD"
    assert int(stamp) == int(at("2024-07-17 16:00", LA).timestamp())
    values = dict(item.split("=", 1) for item in fields.split(","))
    assert values["buy_price"] == "0.55" and float(values["import_cost"]) == 100 / 1000 * 0.55
    assert set(values) == {"buy_price", "sell_price", "import_cost", "export_credit",
                           "net_cost", "baseline_cost", "savings", "tariff_sha256"}
    assert values["tariff_sha256"] == f'"{costs.timeline.versions[0].sha256}"'
