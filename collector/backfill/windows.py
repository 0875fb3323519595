"""Request windows for the history import, in the site's own time zone (pure, no I/O).

A ``Window`` is one history request: a site, a kind, an inclusive range of *local* dates and the
two aware instants sent as ``start_date``/``end_date``. ``start`` is the first instant of the
first day (local midnight, or the first existing instant when midnight is skipped by DST) and
``end`` is one second before the first instant of the day after the last one, each carrying
the UTC offset in force at that instant, so DST days are asked for exactly (the API picks the
local day that contains ``end_date``).

Window sizes per kind (see the README):

- ``energy``: ``calendar_history period=day``, one local day per request.
- ``backup``: ``calendar_history period=year``, one local calendar year per request (clamped
  to the range); events are keyed at their start, so each event belongs to exactly one window.
- ``charge``: ``telemetry_history``, one local calendar month per request (at most 31 days,
  the span the API's charge history is known to serve).

This module only plans: it must not send requests or read InfluxDB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

KINDS: tuple[str, ...] = ("energy", "backup", "charge")
PERIODS = {"energy": "day", "backup": "year", "charge": ""}


@dataclass(frozen=True)
class Window:
    """One history request for ``site_id``/``kind`` covering local days first..last."""

    site_id: int
    kind: str
    first: date
    last: date
    start: datetime
    end: datetime

    @property
    def period(self) -> str:
        return PERIODS[self.kind]

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def key(self) -> str:
        """Stable identity used by the checkpoint file."""
        return f"{self.site_id}/{self.kind}/{self.first.isoformat()}/{self.last.isoformat()}"

    def describe(self) -> str:
        span = self.first.isoformat() if self.days == 1 else f"{self.first}..{self.last}"
        return f"site {self.site_id} {self.kind} {span}"


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of local ``day``, with the offset in force at that instant."""
    naive = datetime.combine(day, time(0), tzinfo=zone)
    # A skipped midnight (DST at 00:00) normalises to the first instant that exists.
    return naive.astimezone(UTC).astimezone(zone)


def day_end(day: date, zone: ZoneInfo) -> datetime:
    """One second before the next local midnight, with that instant's own offset."""
    following = day_start(day + timedelta(days=1), zone)
    return (following.astimezone(UTC) - timedelta(seconds=1)).astimezone(zone)


def day_seconds(day: date, zone: ZoneInfo) -> int:
    """Length of local ``day`` in seconds (82800 / 86400 / 90000 on DST days...)."""
    start = day_start(day, zone).astimezone(UTC)
    return int((day_start(day + timedelta(days=1), zone).astimezone(UTC) - start).total_seconds())


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    """The local date of an aware instant in ``zone``."""
    return instant.astimezone(zone).date()


def window(site_id: int, kind: str, first: date, last: date, zone: ZoneInfo) -> Window:
    return Window(site_id, kind, first, last, day_start(first, zone), day_end(last, zone))


def _next_day(day: date) -> date:
    return day + timedelta(days=1)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _next_year(day: date) -> date:
    return date(day.year + 1, 1, 1)


NEXT_BOUNDARY: dict[str, Callable[[date], date]] = {
    "energy": _next_day,
    "backup": _next_year,
    "charge": _next_month,
}


def plan_kind(site_id: int, kind: str, first: date, last: date, zone: ZoneInfo) -> list[Window]:
    """Windows covering local days ``first..last`` (inclusive) for ``kind``, newest first."""
    if kind not in NEXT_BOUNDARY:
        raise ValueError(f"unknown kind {kind!r}; valid kinds: {', '.join(KINDS)}")
    step = NEXT_BOUNDARY[kind]
    windows: list[Window] = []
    cursor = first
    while cursor <= last:
        stop = min(step(cursor) - timedelta(days=1), last)
        windows.append(window(site_id, kind, cursor, stop, zone))
        cursor = stop + timedelta(days=1)
    windows.reverse()
    return windows


def plan_days(site_id: int, days: Iterable[date], zone: ZoneInfo) -> list[Window]:
    """One energy window per given local day (for ``--missing``), newest first."""
    return [window(site_id, "energy", d, d, zone) for d in sorted(set(days), reverse=True)]


def newest_first(windows: Iterable[Window]) -> list[Window]:
    """Order windows of several sites and kinds so the most recent data comes first."""
    return sorted(windows, key=lambda w: (w.last, w.first), reverse=True)


def is_final(win: Window, today: date) -> bool:
    """Whether Tesla is done revising the window: it ends before yesterday (local)."""
    return win.last < today - timedelta(days=1)
