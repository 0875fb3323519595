"""The report's rows, totals, charges placement, payback and notes (pure, hand-computed)."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from collector.cost import report
from collector.cost.charges import daily_points, demand_points
from collector.cost.compute import bucket_costs
from collector.cost.service import ENERGY_COLUMNS, VALUE_COLUMNS
from collector.cost.timeline import SNAPSHOT, TariffVersion, Timeline
from tests.cost.support import LA, at, day_index, energy, three_season, timeline
from tests.cost.test_compute import negative_tariff

DAYS = ("2024-07-17", "2024-07-20")  # a Wednesday and a Saturday of the summer season


def priced(content=None, days=DAYS, line=None):
    index = pd.DatetimeIndex(np.concatenate([day_index(d, LA) for d in days]))
    costs = bucket_costs(energy(index), line or timeline(content or three_season()), LA)
    charges = pd.concat([daily_points(costs, LA), demand_points(costs, LA)]).sort_index()
    return costs, costs.priced[[*VALUE_COLUMNS, *ENERGY_COLUMNS]], charges


def build(by: str, first=date(2024, 7, 17), last=date(2024, 7, 20), **kwargs):
    _, values, charges = priced()
    return report.build(1, "USD", values, charges, zone=LA, by=by, first=first, last=last,
                        **kwargs)


def test_month_row_adds_energy_fixed_and_demand_charges():
    result = build("month")
    (row,) = result.rows
    assert row["period"] == "2024-07"
    # energy: Wednesday 11.256 - 0.912, Saturday 10.044 - 0.696 (see test_compute)
    assert row["import_cost"] == pytest.approx(11.256 + 10.044, abs=1e-9)
    assert row["export_credit"] == pytest.approx(0.912 + 0.696, abs=1e-9)
    assert row["fixed_charges"] == pytest.approx(1.5, abs=1e-9)  # 2 days x 0.75
    # demand: 100 Wh -> 1.2 kW: on-peak 1.2 x 10 + off-peak 1.2 x 2 = 14.4; the home's own
    # peak (300 Wh -> 3.6 kW) would have cost 36 + 7.2 = 43.2
    assert row["demand_charges"] == pytest.approx(14.4, abs=1e-9)
    assert row["net_cost"] == pytest.approx(35.592, abs=1e-9)
    assert row["baseline_cost"] == pytest.approx(33.768 + 30.132 + 1.5 + 43.2, abs=1e-9)
    assert row["savings"] == pytest.approx(row["baseline_cost"] - row["net_cost"], abs=1e-12)
    assert row["imported_kwh"] == pytest.approx(576 * 0.1)
    assert result.total == {**row, "period": "total"}


def test_day_rows_put_the_months_demand_on_its_first_day_in_the_range():
    result = build("day")
    assert [r["period"] for r in result.rows] == ["2024-07-17", "2024-07-20"]
    assert [r["demand_charges"] for r in result.rows] == pytest.approx([14.4, 0.0])
    assert [r["fixed_charges"] for r in result.rows] == [0.75, 0.75]
    assert result.rows[0]["net_cost"] == pytest.approx(10.344 + 0.75 + 14.4, abs=1e-9)
    assert result.total["net_cost"] == pytest.approx(35.592, abs=1e-9)


def test_rows_outside_the_range_are_left_out():
    result = build("day", first=date(2024, 7, 18), last=date(2024, 7, 20))
    assert [r["period"] for r in result.rows] == ["2024-07-18", "2024-07-20"]
    assert result.rows[0]["import_cost"] == 0.0  # only the month's demand charge
    assert result.total["import_cost"] == pytest.approx(10.044, abs=1e-9)


def test_payback_counts_from_the_installation_day():
    result = build("day", payback=report.Payback(100.0, date(2024, 7, 17)))
    first, second = (r["savings"] for r in result.rows)
    assert first == pytest.approx(77.718 - 25.494, abs=1e-9)
    assert result.rows[1][report.CUMULATIVE] == pytest.approx(first + second, abs=1e-9)
    assert result.payback["paid_back_on"] is None
    # 26.992 left at (52.224 + 20.784) / 2 per day -> 1 more day after the last data day
    assert result.payback["estimated_payback"] == "2024-07-21"
    paid = build("day", payback=report.Payback(60.0, date(2024, 7, 17)))
    assert paid.payback["paid_back_on"] == "2024-07-20"


def test_json_csv_and_table_carry_the_same_totals():
    result = build("month", payback=report.Payback(1000.0, date(2024, 7, 1)))
    document = json.loads(report.as_json(result))
    assert document["total"]["net_cost"] == pytest.approx(35.592)
    assert document["rows"][0]["cumulative_savings"] == pytest.approx(73.008)
    lines = report.as_csv(result).splitlines()
    assert lines[0].split(",") == ["period", *report.COLUMNS, report.CUMULATIVE]
    assert lines[-1].startswith("total,57.600000,") and "35.592000" in lines[-1]
    text = report.as_table(result)
    assert "amounts in USD" in text and "35.59" in text and "estimated payback" in text


def test_notes_name_negative_prices_buy_below_sell_and_missing_days():
    costs, values, _ = priced(negative_tariff(), days=("2024-04-10",))
    found = report.notes(values, costs, zone=LA, first=date(2024, 4, 9),
                         last=date(2024, 4, 10), today=date(2024, 12, 1))
    assert any("48 buckets had a negative price" in n for n in found)
    assert any("48 buckets had a buy price below the sell price" in n for n in found)
    assert any("1 day(s) of the range have no energy history (2024-04-09)" in n for n in found)


def test_notes_say_when_a_tariff_was_assumed_and_when_prices_are_stale():
    version = TariffVersion(int(at("2024-07-20 00:00", LA).timestamp()), SNAPSHOT,
                            three_season())
    costs, values, _ = priced(line=Timeline([version]))
    found = report.notes(values, costs, zone=LA, first=date(2024, 7, 17),
                         last=date(2024, 7, 17), today=date(2024, 12, 1))
    assert found[0].startswith("288 buckets from 2024-07-17 00:00 to 2024-07-17 23:55 were "
                               "priced with Three season")
    stale = values.assign(tariff_sha256="0" * 64)
    found = report.notes(stale, costs, zone=LA, first=date(2024, 7, 17),
                         last=date(2024, 7, 20), today=date(2024, 12, 1))
    assert any("576 buckets were priced under an older tariff timeline" in n for n in found)
