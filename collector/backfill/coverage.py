"""Which local days already hold complete ``energy_history`` data in InfluxDB (for --missing).

Reads the stored bucket times of one site through the sink's ``query_influxql`` (one query per
month of range), groups them by local day in the site's zone and compares each day's count with
the number of buckets that day should hold: the day's length (23, 24 or 25 hours, DST
included) divided by the bucket length seen in the stored timestamps (5 minutes unless the
data says otherwise). Read-only: it must never write.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from collector.backfill.windows import day_seconds, day_start
from collector.transform.fields import ENERGY_HISTORY

DEFAULT_STEP_SECONDS = 300
CHUNK_DAYS = 31
#: Every stored energy_history point has every field (zeros are written as 0.0).
PROBE_FIELD = ENERGY_HISTORY.field_names[0]


def _instant(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def _query(site_id: int, start: datetime, end: datetime) -> str:
    return (f'SELECT "{PROBE_FIELD}" FROM "{ENERGY_HISTORY.measurement}" '
            f"WHERE \"site_id\" = '{site_id}' "
            f"AND time >= {int(start.timestamp())}s AND time < {int(end.timestamp())}s")


def _chunks(first: date, last: date) -> Iterator[tuple[date, date]]:
    cursor = first
    while cursor <= last:
        stop = min(cursor + timedelta(days=CHUNK_DAYS - 1), last)
        yield cursor, stop
        cursor = stop + timedelta(days=1)


def stored_times(sink: Any, site_id: int, zone: ZoneInfo, first: date,
                 last: date) -> list[datetime]:
    """UTC instants of the stored energy_history buckets of local days first..last."""
    times: list[datetime] = []
    for lo, hi in _chunks(first, last):
        start, end = day_start(lo, zone), day_start(hi + timedelta(days=1), zone)
        for row in sink.query_influxql(_query(site_id, start, end)):
            instant = _instant(row.get("time"))
            if instant is not None:
                times.append(instant)
    return times


def bucket_counts(times: list[datetime], zone: ZoneInfo) -> dict[date, list[datetime]]:
    by_day: dict[date, list[datetime]] = defaultdict(list)
    for instant in sorted(set(times)):
        by_day[instant.astimezone(zone).date()].append(instant)
    return by_day


def step_seconds(times: list[datetime]) -> int:
    """The bucket length seen in one day's sorted times (the smallest gap)."""
    gaps = [int((b - a).total_seconds()) for a, b in zip(times, times[1:], strict=False)]
    positive = [g for g in gaps if g > 0]
    return min(positive) if positive else DEFAULT_STEP_SECONDS


def expected_buckets(day: date, zone: ZoneInfo, step: int) -> int:
    return day_seconds(day, zone) // step


def incomplete_days(sink: Any, site_id: int, zone: ZoneInfo, first: date,
                    last: date) -> set[date]:
    """Local days in first..last with no or fewer buckets than the day should hold."""
    by_day = bucket_counts(stored_times(sink, site_id, zone, first, last), zone)
    missing = set()
    day = first
    while day <= last:
        times = by_day.get(day, [])
        if len(times) < expected_buckets(day, zone, step_seconds(times)):
            missing.add(day)
        day += timedelta(days=1)
    return missing


def last_stored_day(sink: Any, site_id: int, zone: ZoneInfo) -> date | None:
    """The local day of the newest stored energy_history bucket of the site, if any."""
    query = (f'SELECT last("{PROBE_FIELD}") FROM "{ENERGY_HISTORY.measurement}" '
             f"WHERE \"site_id\" = '{site_id}'")
    rows = sink.query_influxql(query)
    instant = _instant(rows[0].get("time")) if rows else None
    return instant.astimezone(zone).date() if instant else None
