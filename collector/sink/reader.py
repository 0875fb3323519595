"""Read one measurement out of InfluxDB in time-ordered chunks (the export's reader).

Read-only: every request is an InfluxQL ``SELECT``/``SHOW`` through ``InfluxSink.query_influxql``
(``/query``), never a write, so a read-only token works (open the sink with ``probe=False``).
A range is paged by time: each chunk is one ``SELECT *`` of a time window whose length adapts
so a chunk holds about ``target_rows`` points whatever the measurement's density (5-minute
history or 30-second live data), which keeps memory flat over years of data. It must not
format or write files: it hands out lists of row dicts (tags + ``time`` in ns + fields).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

DAY_NS = 86_400 * 10**9
TARGET_ROWS = 4_000
MIN_WINDOW_NS = 60 * 10**9
MAX_WINDOW_NS = 366 * DAY_NS


def quote_literal(text: str) -> str:
    """An InfluxQL string literal."""
    return "'" + str(text).replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_name(text: str) -> str:
    """An InfluxQL identifier."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Layout:
    """What a measurement stores: its tag keys and its fields with their InfluxDB types."""

    tags: tuple[str, ...]
    fields: dict[str, str]  # name -> float|integer|string|boolean

    @property
    def columns(self) -> list[str]:
        return ["time", *self.tags, *self.fields]


class MeasurementReader:
    """Chunks of one measurement (optionally one site) between two instants."""

    def __init__(self, sink: Any, measurement: str, site_id: str | None = None,
                 target_rows: int = TARGET_ROWS) -> None:
        self.sink = sink
        self.measurement = measurement
        self.site_id = site_id
        self.target_rows = max(1, target_rows)

    def _query(self, text: str) -> list[dict[str, Any]]:
        return self.sink.query_influxql(text, epoch="ns")

    def measurements(self) -> list[str]:
        return sorted(str(row["name"]) for row in self._query("SHOW MEASUREMENTS"))

    def site_ids(self) -> list[str]:
        rows = self._query(f'SHOW TAG VALUES FROM {quote_name(self.measurement)} '
                           'WITH KEY = "site_id"')
        return sorted(str(row["value"]) for row in rows)

    def layout(self) -> Layout:
        name = quote_name(self.measurement)
        tags = sorted(str(row["tagKey"]) for row in self._query(f"SHOW TAG KEYS FROM {name}"))
        fields: dict[str, str] = {}
        for row in self._query(f"SHOW FIELD KEYS FROM {name}"):
            fields.setdefault(str(row["fieldKey"]), str(row["fieldType"]))
        return Layout(tuple(tags), dict(sorted(fields.items())))

    def _where(self, start_ns: int | None = None, end_ns: int | None = None) -> str:
        parts = []
        if self.site_id is not None:
            parts.append(f'"site_id" = {quote_literal(self.site_id)}')
        if start_ns is not None:
            parts.append(f"time >= {int(start_ns)}")
        if end_ns is not None:
            parts.append(f"time < {int(end_ns)}")
        return (" WHERE " + " AND ".join(parts)) if parts else ""

    def bounds(self, start_ns: int | None, end_ns: int | None) -> tuple[int, int] | None:
        """The first and last point's time (ns) in the range, or None when it is empty."""
        base = f"SELECT * FROM {quote_name(self.measurement)}{self._where(start_ns, end_ns)}"
        first = self._query(f"{base} ORDER BY time ASC LIMIT 1")
        last = self._query(f"{base} ORDER BY time DESC LIMIT 1")
        if not first or not last:
            return None
        return int(first[0]["time"]), int(last[0]["time"])

    def chunks(self, start_ns: int, end_ns: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        """(window end, rows) for consecutive windows covering ``[start_ns, end_ns)``, each
        in time order; the window grows or shrinks toward ``target_rows`` rows."""
        cursor, window = start_ns, DAY_NS
        name = quote_name(self.measurement)
        while cursor < end_ns:
            stop = min(cursor + window, end_ns)
            rows = self._query(f"SELECT * FROM {name}{self._where(cursor, stop)}")
            yield stop, rows
            cursor = stop
            window = _next_window(window, len(rows), self.target_rows)


def _next_window(window: int, rows: int, target: int) -> int:
    """The next window: scaled toward ``target`` rows (at most doubled when empty)."""
    scaled = window * 2 if rows == 0 else int(window * min(2.0, target / rows))
    return max(MIN_WINDOW_NS, min(MAX_WINDOW_NS, scaled))
