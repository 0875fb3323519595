"""One window's request and the check and conversion of its reply into line protocol.

``fetch`` sends the window's request through the ``FleetClient``; a backup reply that carries
``next_end_date`` (Tesla pages long backup histories) is followed, page by page, back to the
window's start, and the pages' events are joined; for a site whose zone is a fixed offset
(learnt from an offset, it cannot follow DST) an energy day is asked for again at the offset
its buckets carry when that differs. ``convert`` checks that the reply belongs
to the window (an energy reply's first bucket must lie on the requested local day; backup
events and charge sessions are kept only when they *start* inside the window, so each one
belongs to exactly one window and none is counted twice), then hands the reply to the
transform stage and serializes the result (``to_line_protocol``; an energy day's rows with
``energy_history_lines``, the same bytes without a frame) (in the fetching worker
thread, so the single writer thread only sends). A reply that answers without what the window
must hold (``IncompleteReply``: a past day without buckets, every record skipped, backup events
counted but not listed) is retried and then reported, never taken as an empty success. An energy
window of a site with a tariff also keeps the bucket values its cost needs
(``Converted.energy``): the writer prices each batch of windows at once (``collector.cost``).
Field names, units, the zero-omission rule and the plausibility limits live in
``collector.transform``, prices and costs in ``collector.cost``; this module must not
re-implement them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from typing import Any

from collector.backfill.windows import Window
from collector.cost.service import SiteCosting
from collector.errors import InvalidResponse
from collector.transform import (
    EnergyRows,
    Frame,
    TimeBounds,
    backup_event_frame,
    charge_session_frame,
    energy_history_lines,
    energy_history_rows,
    to_line_protocol,
)


class WrongDay(InvalidResponse):
    """The API answered an energy request with another day's data (retry, then report)."""


class IncompleteReply(InvalidResponse):
    """A reply that answers but lacks what the window must hold: a past day without buckets,
    every record skipped as malformed or implausible, backup events counted but not listed.
    Retried, then reported as a failed window (the run exits 1; nothing is checkpointed)."""


@dataclass(frozen=True)
class Expectations:
    """What the runner knows a window's reply must satisfy: plausible point times
    (``TimeBounds``) and whether it is a past energy day on or after the installation day
    (so it must hold buckets; today may still be empty before its first bucket)."""

    bounds: TimeBounds | None = None
    holds_data: bool = False


@dataclass(frozen=True, eq=False)
class Converted:
    """The line protocol of one window plus what it contains; ``dropped``: records of the
    reply skipped as malformed or implausible (each reply's first reason is logged)."""

    lines: list[str]
    buckets: int = 0
    events: int = 0
    sessions: int = 0
    dropped: int = 0
    energy: Any = None  # the buckets' cost inputs when the site is priced

    @property
    def points(self) -> int:
        return self.buckets + self.events + self.sessions


#: Most backup pages followed for one window (a guard against a reply that never ends).
MAX_BACKUP_PAGES = 100


def fetch(client: Any, win: Window, zone_name: str, fixed: bool = False) -> dict[str, Any]:
    """Send the window's request(s); returns the unwrapped ``response`` object (for a paged
    backup history, the last page's object with every page's events). ``fixed``: the site's
    zone is a fixed offset, so an energy day is asked for again at the offset its buckets
    carry when that differs (``_fetch_day_at_its_offset``)."""
    if win.kind == "charge":
        return client.telemetry_history(win.site_id, win.start, win.end, zone_name, "charge")
    if win.kind == "backup":
        return _fetch_backup_pages(client, win, zone_name)
    if fixed:
        return _fetch_day_at_its_offset(client, win, zone_name)
    return client.calendar_history(win.site_id, win.kind, win.start, win.end, win.period,
                                   zone_name)


def _fetch_backup_pages(client: Any, win: Window, zone_name: str) -> dict[str, Any]:
    """``calendar_history kind=backup``, following ``next_end_date`` while it stays inside the
    window and moves back in time; raises ``InvalidResponse`` when the pages never end."""
    end, events = win.end, []
    for _ in range(MAX_BACKUP_PAGES):
        reply = client.calendar_history(win.site_id, "backup", win.start, end, win.period,
                                        zone_name)
        if not isinstance(reply, dict):
            return reply
        events += _rows(reply, "events", "calendar_history")
        following = _next_end(reply, end)
        if following is None or following < win.start:
            return {**reply, "events": events}
        end = following
    raise InvalidResponse(f"calendar_history: the backup history of {win.describe()} has more "
                          f"than {MAX_BACKUP_PAGES} pages", endpoint="calendar_history")


def _next_end(reply: dict[str, Any], end: datetime) -> datetime | None:
    """The reply's ``next_end_date`` when it has one: a readable instant before ``end``."""
    raw = reply.get("next_end_date")
    if raw is None or raw == "":
        return None
    following = parse_instant(raw)
    if following is None or following >= end:
        raise InvalidResponse(f"calendar_history: unusable next_end_date {raw!r:.40}",
                              endpoint="calendar_history")
    return following


def _fetch_day_at_its_offset(client: Any, win: Window, zone_name: str) -> dict[str, Any]:
    """An energy day of a fixed-offset site. Tesla picks the local day that contains
    ``end_date``, but a fixed offset is an hour off on the other side of a DST change, so the
    day may come back as the next one (or cut an hour short). The buckets' timestamps carry
    the site's real offset: when the last one's differs from the offset sent, the day is asked
    for again ending at 23:59:59 in that offset (once more at most)."""
    end = win.end
    reply = client.calendar_history(win.site_id, "energy", win.start, end, win.period,
                                    zone_name)
    for _ in range(2):
        offset = _last_offset(reply)
        if offset is None or offset == end.utcoffset():
            break
        end = datetime.combine(win.last, time(23, 59, 59), tzinfo=timezone(offset))
        reply = client.calendar_history(win.site_id, "energy", win.start, end, win.period,
                                        zone_name)
    return reply


def _last_offset(reply: Any) -> timedelta | None:
    rows = reply.get("time_series") if isinstance(reply, dict) else None
    if not isinstance(rows, list) or not rows or not isinstance(rows[-1], dict):
        return None
    stamp = parse_instant(rows[-1].get("timestamp"))
    return stamp.utcoffset() if stamp is not None else None


def parse_instant(value: Any) -> datetime | None:
    """An aware datetime from an RFC3339 string or a protobuf ``{"seconds": N}`` object."""
    if isinstance(value, dict):
        value = value.get("seconds")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value:
        try:
            stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return stamp if stamp.tzinfo else None
    return None


def _rows(reply: dict[str, Any], key: str, endpoint: str) -> list[dict[str, Any]]:
    rows = reply.get(key)
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise InvalidResponse(f"{endpoint}: '{key}' is not a list", endpoint=endpoint)
    return [row for row in rows if isinstance(row, dict)]


def check_day(win: Window, reply: dict[str, Any], zone: tzinfo,
              fixed: bool = False) -> list[dict[str, Any]]:
    """The reply's energy rows, after checking the first one lies on the requested day: its
    local date in ``zone``, or, for a ``fixed`` offset (which cannot follow DST), the date in
    the bucket's own timestamp (Tesla stamps buckets with the site's real offset)."""
    rows = _rows(reply, "time_series", "calendar_history")
    if not rows:
        return rows
    first = parse_instant(rows[0].get("timestamp"))
    if first is None:
        raise InvalidResponse("calendar_history: first bucket has no readable timestamp",
                              endpoint="calendar_history")
    got = first.date() if fixed else first.astimezone(zone).date()
    if got != win.first:
        raise WrongDay(f"calendar_history: asked for {win.first}, the reply starts on {got}",
                       endpoint="calendar_history")
    return rows


def in_window(win: Window, rows: list[dict[str, Any]], time_key: str) -> list[dict[str, Any]]:
    """Rows whose start instant lies in the window, one per instant (first one wins)."""
    kept: dict[datetime, dict[str, Any]] = {}
    for row in rows:
        start = parse_instant(row.get(time_key))
        if start is not None and win.start <= start <= win.end and start not in kept:
            kept[start] = row
    return list(kept.values())


def _converted(win: Window, frame: Frame, **counts: Any) -> Converted:
    """The window's lines; raises ``IncompleteReply`` when every record was skipped."""
    _check_kept(win, frame)
    lines = to_line_protocol(frame) if len(frame) else []
    return Converted(lines, dropped=frame.skipped, **counts)


def _check_kept(win: Window, kept: Frame | EnergyRows) -> None:
    """Raise ``IncompleteReply`` when the reply had records and every one was skipped."""
    if kept.skipped and not len(kept):
        endpoint = "telemetry_history" if win.kind == "charge" else "calendar_history"
        raise IncompleteReply(f"{endpoint}: all {kept.skipped} record(s) of the reply were "
                              f"skipped; first: {kept.skip_reason}", endpoint=endpoint)


def _convert_energy(win: Window, reply: dict[str, Any], zone: tzinfo, fixed: bool,
                    expect: Expectations, costing: SiteCosting | None) -> Converted:
    rows = check_day(win, reply, zone, fixed)
    if not rows and expect.holds_data:
        state = "empty" if isinstance(reply.get("time_series"), list) else (
            "null" if "time_series" in reply else "missing")
        raise IncompleteReply(f"calendar_history: no buckets for past day {win.first} "
                              f"(time_series {state})", endpoint="calendar_history")
    buckets = energy_history_rows({**reply, "time_series": rows}, site_id=win.site_id,
                                  bounds=expect.bounds)
    _check_kept(win, buckets)
    energy = costing.inputs(buckets) if costing is not None and len(buckets) else None
    return Converted(energy_history_lines(buckets), dropped=buckets.skipped,
                     buckets=len(buckets), energy=energy)


def check_event_count(reply: dict[str, Any]) -> None:
    """Backup events that went missing: the reply's own count (``total_events``, or
    ``events_count``) exceeds the events it lists (none when ``events`` is missing or null).
    A count lower than the list is not flagged (a paged history may count one page)."""
    counts = [reply.get(key) for key in ("total_events", "events_count")]
    total = next((c for c in counts if isinstance(c, int) and not isinstance(c, bool)), None)
    listed = reply.get("events")
    shown = len(listed) if isinstance(listed, list) else 0
    if total is not None and total > shown:
        raise IncompleteReply(f"calendar_history: the backup reply counts {total} event(s) but "
                              f"lists {shown}; events went missing", endpoint="calendar_history")


def _convert_backup(win: Window, reply: dict[str, Any], _zone: tzinfo, _fixed: bool,
                    expect: Expectations, _costing: SiteCosting | None) -> Converted:
    check_event_count(reply)
    events = in_window(win, _rows(reply, "events", "calendar_history"), "timestamp")
    frame = backup_event_frame({**reply, "events": events}, site_id=win.site_id,
                               bounds=expect.bounds)
    return _converted(win, frame, events=len(frame))


def _convert_charge(win: Window, reply: dict[str, Any], _zone: tzinfo, _fixed: bool,
                    expect: Expectations, _costing: SiteCosting | None) -> Converted:
    sessions = in_window(win, _rows(reply, "charge_history", "telemetry_history"),
                         "charge_start_time")
    frame = charge_session_frame({**reply, "charge_history": sessions}, site_id=win.site_id,
                                 bounds=expect.bounds)
    return _converted(win, frame, sessions=len(frame))


Converter = Callable[[Window, dict[str, Any], tzinfo, bool, Expectations,
                      SiteCosting | None], Converted]
CONVERTERS: dict[str, Converter] = {
    "energy": _convert_energy,
    "backup": _convert_backup,
    "charge": _convert_charge,
}


def convert(win: Window, reply: dict[str, Any], zone: tzinfo, fixed: bool = False,
            expect: Expectations = Expectations(),
            costing: SiteCosting | None = None) -> Converted:
    """Check ``reply`` against ``win`` and convert it (raises ``InvalidResponse``/``WrongDay``/
    ``IncompleteReply``); ``fixed``: the site's zone is a fixed offset (see ``check_day``);
    ``expect``: plausible times and whether the window must hold data; with ``costing``,
    energy windows keep their buckets' cost inputs."""
    if not isinstance(reply, dict):
        raise InvalidResponse("history reply is not an object", endpoint="calendar_history")
    return CONVERTERS[win.kind](win, reply, zone, fixed, expect, costing)
