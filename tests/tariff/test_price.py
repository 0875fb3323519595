"""Price lookup: period boundaries, season boundaries (incl. year wrap) and DST changes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from collector.tariff import load_tariff, price_at
from tests.tariff.support import doc

LA = "America/Los_Angeles"


def _at(name: str, *local: str, zone: str = LA) -> pd.DataFrame:
    """Price wall-clock times (unambiguous ones) given in ``zone``, passed as UTC instants."""
    index = pd.DatetimeIndex([pd.Timestamp(t, tz=zone) for t in local]).tz_convert("UTC")
    return price_at(load_tariff(doc(name)), index, zone)


def test_weekday_period_boundaries_are_start_inclusive_end_exclusive():
    # 2024-07-01 is a Monday (Tesla day 0)
    frame = _at("three_season", "2024-07-01 14:59", "2024-07-01 15:00", "2024-07-01 15:59",
                "2024-07-01 16:00", "2024-07-01 20:59", "2024-07-01 21:00", "2024-07-01 23:59")
    assert list(frame["period"]) == ["OFF_PEAK", "PARTIAL_PEAK", "PARTIAL_PEAK", "ON_PEAK",
                                     "ON_PEAK", "PARTIAL_PEAK", "PARTIAL_PEAK"]
    assert list(frame["buy"]) == pytest.approx([0.33, 0.42, 0.42, 0.55, 0.55, 0.42, 0.42])
    assert list(frame["sell"]) == pytest.approx([0.05, 0.05, 0.05, 0.10, 0.10, 0.05, 0.05])


def test_weekend_uses_weekend_periods():
    # 2024-07-06 is a Saturday (Tesla day 5), 2024-07-07 a Sunday (6)
    frame = _at("three_season", "2024-07-05 17:00", "2024-07-06 17:00", "2024-07-07 15:59",
                "2024-07-07 21:00", "2024-07-08 00:00")
    assert list(frame["period"]) == ["ON_PEAK", "PARTIAL_PEAK", "OFF_PEAK", "OFF_PEAK",
                                     "OFF_PEAK"]


def test_period_running_past_midnight_and_over_the_week_end():
    # Winter OFF_PEAK 21:00 -> 09:00 every day: Sunday night runs into Monday morning
    frame = _at("three_season", "2024-01-07 23:30", "2024-01-08 08:59", "2024-01-08 09:00")
    assert list(frame["period"]) == ["OFF_PEAK", "OFF_PEAK", "SUPER_OFF_PEAK"]


def test_season_boundaries_use_the_local_date():
    frame = _at("three_season", "2024-05-31 23:59", "2024-06-01 00:00",
                "2024-09-30 23:59", "2024-10-01 00:00")
    assert list(frame["season"]) == ["Winter", "Summer", "Summer", "Autumn"]


def test_season_boundary_is_local_midnight_not_utc_midnight():
    # 2024-06-01 00:00 UTC is still May 31 (17:00 PDT) in Los Angeles
    frame = price_at(load_tariff(doc("three_season")),
                     pd.DatetimeIndex([pd.Timestamp("2024-06-01 00:00", tz="UTC")]), LA)
    assert frame["season"].iloc[0] == "Winter"
    assert frame["period"].iloc[0] == "ON_PEAK"


def test_season_wrapping_the_year_end():
    frame = _at("wrap_year", "2023-10-31 23:59", "2023-11-01 00:00", "2023-12-31 23:59",
                "2024-01-01 00:00", "2024-03-31 23:59", "2024-04-01 00:00",
                zone="Europe/Berlin")
    assert list(frame["season"]) == ["Summer", "Winter", "Winter", "Winter", "Winter", "Summer"]
    assert frame["buy"].iloc[1] == pytest.approx(0.25)


def test_leap_day_is_priced_with_the_season_of_february_28():
    document = doc("wrap_year")
    document["seasons"]["Winter"].update(toMonth=2, toDay=28)
    document["seasons"]["Summer"].update(fromMonth=3, fromDay=1)
    index = pd.DatetimeIndex(["2024-02-28 12:00", "2024-02-29 12:00", "2024-03-01 12:00"],
                             tz="UTC")
    frame = price_at(load_tariff(document), index, "UTC")
    assert list(frame["season"]) == ["Winter", "Winter", "Summer"]


@pytest.mark.parametrize(("day", "hours"), [("2024-03-10", 23), ("2024-11-03", 25),
                                            ("2024-11-04", 24)])
def test_dst_days_keep_wall_clock_periods(day, hours):
    """Every 5-minute instant of a DST day; peak stays at local 16:00/17:00 on both sides."""
    start = pd.Timestamp(day).tz_localize(LA).tz_convert("UTC")
    end = (pd.Timestamp(day) + pd.Timedelta(days=1)).tz_localize(LA).tz_convert("UTC")
    index = pd.date_range(start, end, freq="5min", inclusive="left")
    assert len(index) == hours * 12
    frame = price_at(load_tariff(doc("three_season")), index, LA)
    local = index.tz_convert(LA)
    peak = frame["period"] == "ON_PEAK"
    assert peak.sum() == (5 if day < "2024-06-01" else 3) * 12
    first = local[np.asarray(peak)][0]
    assert (first.hour, first.minute) == ((16, 0) if day < "2024-06-01" else (17, 0))


def test_fall_back_repeated_hour_is_priced_twice():
    index = pd.DatetimeIndex(["2024-11-03 08:30", "2024-11-03 09:30"], tz="UTC")  # 01:30 x2
    frame = price_at(load_tariff(doc("three_season")), index, LA)
    assert list(frame["period"]) == ["OFF_PEAK", "OFF_PEAK"]
    assert list(index.tz_convert(LA).hour) == [1, 1]


def test_naive_index_is_taken_as_utc_and_result_keeps_the_index():
    index = pd.DatetimeIndex(["2024-07-01 23:00"])  # 16:00 PDT, Monday
    frame = price_at(load_tariff(doc("three_season")), index, LA)
    assert frame.index.equals(index)
    assert frame["period"].iloc[0] == "ON_PEAK"


def test_flat_tariff_and_missing_sell_tariff():
    flat = load_tariff(doc("flat"))
    index = pd.date_range("2024-01-01", periods=48, freq="1h", tz="UTC")
    frame = price_at(flat, index, "Australia/Adelaide")
    assert (frame["buy"] == 0.30).all() and (frame["sell"] == 0.05).all()
    assert set(frame["period"]) == {"OFF_PEAK"}
    no_sell = doc("wrap_year")
    assert price_at(load_tariff(no_sell), index, "UTC")["sell"].isna().all()


def test_half_hour_zone_uses_its_own_wall_clock():
    # Adelaide is UTC+10:30 in January: 05:30 UTC = 16:00 local, Monday 2024-01-08
    index = pd.DatetimeIndex(["2024-01-08 05:29", "2024-01-08 05:30"], tz="UTC")
    frame = price_at(load_tariff(doc("three_season")), index, "Australia/Adelaide")
    assert list(frame["period"]) == ["OFF_PEAK", "ON_PEAK"]
