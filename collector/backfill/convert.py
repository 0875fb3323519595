"""One window's request and the check and conversion of its reply into line protocol.

``fetch`` sends the window's request through the ``FleetClient``; a backup reply that carries
``next_end_date`` (Tesla pages long backup histories) is followed, page by page, back to the
window's start, and the pages' events are joined. ``convert`` checks that the reply belongs
to the window (an energy reply's first bucket must lie on the requested local day; backup
events and charge sessions are kept only when they *start* inside the window, so each one
belongs to exactly one window and none is counted twice), then hands the reply to the
transform stage and serializes the frame with ``to_line_protocol`` (in the fetching worker
thread, so the single writer thread only sends). Field names, units and the zero-omission rule
live in ``collector.transform``; this module must not re-implement them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from collector.backfill.windows import Window
from collector.errors import InvalidResponse
from collector.transform import (
    Frame,
    backup_event_frame,
    charge_session_frame,
    energy_history_frame,
    to_line_protocol,
)


class WrongDay(InvalidResponse):
    """The API answered an energy request with another day's data (retry, then report)."""


@dataclass(frozen=True)
class Converted:
    """The line protocol of one window plus what it contains."""

    lines: list[str]
    buckets: int = 0
    events: int = 0
    sessions: int = 0

    @property
    def points(self) -> int:
        return self.buckets + self.events + self.sessions


def fetch(client: Any, win: Window, zone_name: str) -> dict[str, Any]:
    """Send the window's history request; returns the unwrapped ``response`` object."""
    if win.kind == "charge":
        return client.telemetry_history(win.site_id, win.start, win.end, zone_name, "charge")
    return client.calendar_history(win.site_id, win.kind, win.start, win.end, win.period,
                                   zone_name)


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


def _lines(frame: Frame) -> list[str]:
    return to_line_protocol(frame) if len(frame) else []


def _convert_energy(win: Window, reply: dict[str, Any], zone: tzinfo, fixed: bool) -> Converted:
    rows = check_day(win, reply, zone, fixed)
    frame = energy_history_frame({**reply, "time_series": rows}, site_id=win.site_id)
    return Converted(_lines(frame), buckets=len(frame))


def _convert_backup(win: Window, reply: dict[str, Any], _zone: tzinfo, _fixed: bool) -> Converted:
    events = in_window(win, _rows(reply, "events", "calendar_history"), "timestamp")
    frame = backup_event_frame({**reply, "events": events}, site_id=win.site_id)
    return Converted(_lines(frame), events=len(frame))


def _convert_charge(win: Window, reply: dict[str, Any], _zone: tzinfo, _fixed: bool) -> Converted:
    sessions = in_window(win, _rows(reply, "charge_history", "telemetry_history"),
                         "charge_start_time")
    frame = charge_session_frame({**reply, "charge_history": sessions}, site_id=win.site_id)
    return Converted(_lines(frame), sessions=len(frame))


CONVERTERS: dict[str, Callable[[Window, dict[str, Any], tzinfo, bool], Converted]] = {
    "energy": _convert_energy,
    "backup": _convert_backup,
    "charge": _convert_charge,
}


def convert(win: Window, reply: dict[str, Any], zone: tzinfo, fixed: bool = False) -> Converted:
    """Check ``reply`` against ``win`` and convert it (raises ``InvalidResponse``/``WrongDay``);
    ``fixed``: the site's zone is a fixed offset (see ``check_day``)."""
    if not isinstance(reply, dict):
        raise InvalidResponse("history reply is not an object", endpoint="calendar_history")
    return CONVERTERS[win.kind](win, reply, zone, fixed)
