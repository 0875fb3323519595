"""Daily and demand charges: once per local day, per month and period from the highest bucket."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from collector.cost.charges import charges_frame, daily_points, demand_points
from collector.cost.compute import bucket_costs
from collector.transform import to_line_protocol
from tests.cost.support import ADELAIDE, LA, at, day_index, energy, three_season, timeline


def days_index(*days: str, zone: str = LA) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.concatenate([day_index(d, zone) for d in days]))


def costs_for(frame: pd.DataFrame, zone: str = LA):
    return bucket_costs(frame, timeline(three_season()), zone)


def test_daily_charges_count_once_per_local_day_dst_days_included():
    # 288 + 300 + 288 buckets
    costs = costs_for(energy(days_index("2024-11-02", "2024-11-03", "2024-11-04")))
    rows = daily_points(costs, LA, system_price=12000)
    assert list(rows.index) == [at(f"2024-11-0{d} 00:00", LA) for d in (2, 3, 4)]
    assert rows["amount"].tolist() == [0.75] * 3  # Service 0.5 + Meter 0.25
    assert rows["baseline_amount"].tolist() == [0.75] * 3
    assert set(rows["system_price"]) == {12000.0} and set(rows["charge"]) == {"daily"}


def test_daily_charges_in_a_half_hour_zone_start_at_local_midnight():
    rows = daily_points(costs_for(energy(days_index("2024-10-06", zone=ADELAIDE)), ADELAIDE),
                        ADELAIDE)
    assert list(rows.index) == [pd.Timestamp("2024-10-05 14:30", tz="UTC")]  # 00:00 ACST


def test_demand_charges_per_month_and_period_from_the_highest_bucket():
    frame = energy(days_index("2024-07-16", "2024-07-17", "2024-08-01"), imported=100.0,
                   home=300.0)
    frame.loc[at("2024-07-17 17:00", LA), "grid_energy_imported"] = 500.0  # on-peak peak
    frame.loc[at("2024-07-16 03:00", LA), "grid_energy_imported"] = 900.0  # off-peak peak
    frame.loc[at("2024-07-16 18:00", LA), "total_home_usage"] = 700.0
    rows = demand_points(costs_for(frame), LA)
    july = rows.loc[at("2024-07-01 00:00", LA)]
    on_peak = july[july["period"] == "ON_PEAK"].iloc[0]
    # 500 Wh in 5 minutes = 6000 W = 6 kW at 10/kW; baseline: 700 Wh -> 8.4 kW
    assert on_peak["peak_power_w"] == 6000.0 and on_peak["amount"] == pytest.approx(60.0)
    assert on_peak["baseline_amount"] == pytest.approx(84.0) and on_peak["rate"] == 10.0
    off_peak = july[july["period"] == "OFF_PEAK"].iloc[0]
    assert off_peak["amount"] == pytest.approx(10.8 * 2.0)  # 900 Wh -> 10.8 kW at 2/kW
    august = rows.loc[[at("2024-08-01 00:00", LA)]]
    assert sorted(august["period"]) == ["OFF_PEAK", "ON_PEAK"]
    assert august["peak_power_w"].tolist() == [1200.0, 1200.0]
    assert "PARTIAL_PEAK" not in set(rows["period"])  # no demand rate: no point


def test_a_month_spanning_two_versions_charges_each_part_at_its_own_peak():
    first, second = three_season(), three_season()
    second["demand_charges"]["Summer"]["rates"]["ON_PEAK"] = 20.0
    change = at("2024-07-17 00:00", LA)
    line = timeline(first, second, starts=(0, int(change.timestamp())))
    frame = energy(days_index("2024-07-16", "2024-07-17"), imported=100.0)
    frame.loc[at("2024-07-16 17:00", LA), "grid_energy_imported"] = 250.0  # 3 kW x 10
    frame.loc[at("2024-07-17 17:00", LA), "grid_energy_imported"] = 200.0  # 2.4 kW x 20
    rows = demand_points(bucket_costs(frame, line, LA), LA)
    on_peak = rows[rows["period"] == "ON_PEAK"].iloc[0]
    assert on_peak["amount"] == pytest.approx(30.0 + 48.0)
    assert on_peak["peak_power_w"] == 3000.0 and np.isnan(on_peak["rate"])
    assert on_peak["tariff_sha256"] == line.versions[1].sha256


def test_charge_points_as_line_protocol():
    costs = costs_for(energy(days_index("2024-07-17")))
    rows = pd.concat([daily_points(costs, LA), demand_points(costs, LA)])
    lines = to_line_protocol(charges_frame(rows, 7))
    assert lines[0].startswith("energy_cost_charges,site_id=7,currency=USD,charge=daily "
                               "amount=0.75,baseline_amount=0.75,tariff_sha256=")
    assert any(line.startswith("energy_cost_charges,site_id=7,currency=USD,charge=demand,"
                               "period=ON_PEAK amount=12.0,") for line in lines)
