"""Local-day arithmetic for the simulator: bucket instants, local wall-clock and offsets.

A simulated local day is every 5-minute bucket from local midnight to the next local midnight,
stepped in UTC, so a DST fall-back day has 300 buckets, a spring-forward day 276, and half-hour
zones line up too (all bucket starts are multiples of 300 s in UTC). Pure functions only: no
model, no HTTP.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

STEP_SECONDS = 300
STEPS_PER_HOUR = 3600 // STEP_SECONDS


def local_midnight(day: date, zone: ZoneInfo) -> int:
    """Epoch seconds of the first instant of ``day`` in ``zone``."""
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())


def local_date(epoch: float, zone: ZoneInfo) -> date:
    """The local calendar date in ``zone`` that contains the instant ``epoch``."""
    return datetime.fromtimestamp(epoch, zone).date()


def day_bounds(day: date, zone: ZoneInfo) -> tuple[int, int]:
    """``(start, end)`` epoch seconds of the local day (end exclusive)."""
    return local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)


def bucket_starts(day: date, zone: ZoneInfo) -> np.ndarray:
    """Epoch seconds (int64) of every 5-minute bucket start of the local day."""
    start, end = day_bounds(day, zone)
    return np.arange(start, end, STEP_SECONDS, dtype=np.int64)


def utc_offsets(starts: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    """The zone's UTC offset in seconds at each instant (at most one change per day, so only
    the ends are probed unless they differ)."""
    first, last = (_offset(int(starts[0]), zone), _offset(int(starts[-1]), zone))
    if first == last:
        return np.full(len(starts), first, dtype=np.int64)
    return np.array([_offset(int(t), zone) for t in starts], dtype=np.int64)


def _offset(epoch: int, zone: ZoneInfo) -> int:
    delta = datetime.fromtimestamp(epoch, UTC).astimezone(zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def iso_local(epoch: float, zone: ZoneInfo) -> str:
    """RFC3339 with the local offset, e.g. ``2024-05-12T00:18:19-07:00``."""
    return datetime.fromtimestamp(int(epoch), zone).isoformat(timespec="seconds")


_CLOCK_TEXT = [f"{s // 3600:02d}:{s % 3600 // 60:02d}:00" for s in range(0, 86400, STEP_SECONDS)]


def iso_bucket_stamps(day: date, starts: np.ndarray, zone: ZoneInfo) -> list[str]:
    """``iso_local`` of every bucket start of the local ``day`` (fast path: all buckets share
    the date, and local times are whole 5-minute steps, so only table lookups vary)."""
    offsets = utc_offsets(starts, zone)
    if (offsets % STEP_SECONDS).any():  # a zone with a non-5-minute offset: the slow way
        return [iso_local(t, zone) for t in starts.tolist()]
    slots = ((starts + offsets) % 86400 // STEP_SECONDS).tolist()
    texts = {o: _offset_text(o) for o in set(offsets.tolist())}
    prefix = day.isoformat() + "T"
    return [prefix + _CLOCK_TEXT[s] + texts[o]
            for s, o in zip(slots, offsets.tolist(), strict=True)]


def _offset_text(offset: int) -> str:
    sign = "-" if offset < 0 else "+"
    minutes = abs(offset) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def month_days(day: date) -> list[date]:
    """Every date of ``day``'s calendar month."""
    first = day.replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return [first + timedelta(days=i) for i in range((nxt - first).days)]
