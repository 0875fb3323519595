"""Window planning in the site's zone: DST offsets, half-hour zones, kinds' window sizes."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from collector.backfill.windows import (
    day_end,
    day_seconds,
    day_start,
    is_final,
    newest_first,
    plan_days,
    plan_kind,
)

LA = ZoneInfo("America/Los_Angeles")
ADELAIDE = ZoneInfo("Australia/Adelaide")


@pytest.mark.parametrize(("day", "zone", "start", "end", "hours"), [
    (date(2024, 3, 10), LA, "2024-03-10T00:00:00-08:00", "2024-03-10T23:59:59-07:00", 23),
    (date(2024, 11, 3), LA, "2024-11-03T00:00:00-07:00", "2024-11-03T23:59:59-08:00", 25),
    (date(2024, 6, 1), LA, "2024-06-01T00:00:00-07:00", "2024-06-01T23:59:59-07:00", 24),
    (date(2024, 4, 7), ADELAIDE, "2024-04-07T00:00:00+10:30", "2024-04-07T23:59:59+09:30", 25),
    (date(2024, 10, 6), ADELAIDE, "2024-10-06T00:00:00+09:30", "2024-10-06T23:59:59+10:30", 23),
    (date(2024, 7, 1), ZoneInfo("Asia/Kolkata"), "2024-07-01T00:00:00+05:30",
     "2024-07-01T23:59:59+05:30", 24),
])
def test_day_bounds_carry_each_instants_own_offset(day, zone, start, end, hours):
    assert day_start(day, zone).isoformat() == start
    assert day_end(day, zone).isoformat() == end
    assert day_seconds(day, zone) == hours * 3600


def test_a_skipped_midnight_starts_the_day_at_its_first_real_instant():
    havana = ZoneInfo("America/Havana")  # DST begins at 00:00 -> 01:00
    assert day_start(date(2024, 3, 10), havana).isoformat() == "2024-03-10T01:00:00-04:00"
    assert day_seconds(date(2024, 3, 10), havana) == 23 * 3600


def test_energy_is_one_window_per_local_day_newest_first():
    windows = plan_kind(7, "energy", date(2024, 3, 9), date(2024, 3, 11), LA)
    assert [w.first for w in windows] == [date(2024, 3, 11), date(2024, 3, 10), date(2024, 3, 9)]
    assert all(w.first == w.last and w.period == "day" for w in windows)
    assert windows[1].end.isoformat() == "2024-03-10T23:59:59-07:00"
    assert len({w.key for w in windows}) == 3


def test_backup_windows_are_calendar_years_clamped_to_the_range():
    windows = plan_kind(7, "backup", date(2022, 5, 3), date(2024, 2, 1), LA)
    spans = [(w.first, w.last, w.period) for w in windows]
    assert spans == [
        (date(2024, 1, 1), date(2024, 2, 1), "year"),
        (date(2023, 1, 1), date(2023, 12, 31), "year"),
        (date(2022, 5, 3), date(2022, 12, 31), "year"),
    ]


def test_charge_windows_are_calendar_months_of_at_most_31_days():
    windows = plan_kind(7, "charge", date(2024, 1, 15), date(2024, 3, 31), LA)
    assert [(w.first, w.last) for w in windows] == [
        (date(2024, 3, 1), date(2024, 3, 31)),
        (date(2024, 2, 1), date(2024, 2, 29)),
        (date(2024, 1, 15), date(2024, 1, 31)),
    ]
    assert all(w.days <= 31 for w in windows)
    assert windows[0].start.isoformat() == "2024-03-01T00:00:00-08:00"
    assert windows[0].end.isoformat() == "2024-03-31T23:59:59-07:00"


def test_windows_cover_every_day_exactly_once():
    for kind in ("energy", "backup", "charge"):
        windows = plan_kind(1, kind, date(2023, 11, 20), date(2024, 2, 10), ADELAIDE)
        days = sorted(d for w in windows for d in _days(w.first, w.last))
        assert days == list(_days(date(2023, 11, 20), date(2024, 2, 10)))


def _days(first, last):
    from datetime import timedelta
    while first <= last:
        yield first
        first += timedelta(days=1)


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown kind"):
        plan_kind(1, "power", date(2024, 1, 1), date(2024, 1, 1), LA)


def test_newest_first_across_sites_and_plan_days_dedupes():
    a = plan_days(1, [date(2024, 1, 1), date(2024, 1, 3), date(2024, 1, 3)], LA)
    b = plan_days(2, [date(2024, 1, 2)], LA)
    ordered = newest_first(a + b)
    assert [(w.site_id, w.first.day) for w in ordered] == [(1, 3), (2, 2), (1, 1)]


def test_only_days_before_yesterday_are_final():
    win = plan_days(1, [date(2024, 5, 8)], LA)[0]
    assert is_final(win, date(2024, 5, 10))
    assert not is_final(win, date(2024, 5, 9))
    assert not is_final(win, date(2024, 5, 8))
