"""Reading and writing what the cost feature stores, through the sink (InfluxQL reads).

- the tariff timeline: ``load_timeline`` reads a site's ``tariff_version`` points,
  ``version_frame`` makes one, ``TariffRecorder`` writes a snapshot only when the site's tariff
  differs from the last stored snapshot (the site_info job, backfill and ``cost`` use it);
- the inputs and outputs of the computation: energy buckets, ``energy_cost`` points, demand
  charge keys and charge sessions of a time range (read in chunks of a month).

Every read goes through ``sink.query_influxql`` and every write through ``sink.write``; the
computation itself is in ``compute``/``charges``/``sessions``. Unreadable stored versions are
skipped with a warning, never guessed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from collector.cost.timeline import (
    DECLARED,
    SNAPSHOT,
    TariffVersion,
    Timeline,
    canonical_json,
    content_sha256,
)
from collector.errors import CollectorError
from collector.log import get_logger
from collector.tariff import TariffFormatError, load_tariff, site_tariff_content
from collector.transform.fields import (
    CHARGE_SESSION,
    ENERGY_COST,
    ENERGY_COST_CHARGES,
    ENERGY_HISTORY,
    TARIFF_VERSION,
)
from collector.transform.frame import Frame, utc_index

log = get_logger(__name__)

CHUNK_SECONDS = 31 * 86400


def _quote(text: str) -> str:
    return "'" + str(text).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _where(site_id: int | str, start: int | None = None, end: int | None = None) -> str:
    clause = f'"site_id" = {_quote(str(site_id))}'
    if start is not None:
        clause += f" AND time >= {int(start)}s"
    if end is not None:
        clause += f" AND time < {int(end)}s"
    return clause


def _chunks(start: int, end: int) -> Iterator[tuple[int, int]]:
    cursor = start
    while cursor < end:
        yield cursor, min(cursor + CHUNK_SECONDS, end)
        cursor += CHUNK_SECONDS


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _seconds(text: Any) -> int | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


# --- the timeline --------------------------------------------------------------------------


def version_frame(version: TariffVersion, site_id: int | str) -> Frame:
    """The ``tariff_version`` point of ``version``."""
    tariff = version.tariff
    data = pd.DataFrame({
        "site_id": [str(site_id)], "source": [version.source], "sha256": [version.sha256],
        "name": [tariff.name], "utility": [tariff.utility], "code": [tariff.code],
        "currency": [tariff.currency], "content": [canonical_json(version.content)],
        "until": [None if version.until is None else _iso(version.until)],
    }, index=utc_index([version.start]))
    return Frame(TARIFF_VERSION.measurement, data, TARIFF_VERSION.tags)


def _version(row: Mapping[str, Any]) -> TariffVersion | None:
    try:
        content = json.loads(row.get("content") or "")
        load_tariff(content)
        return TariffVersion(int(row["time"]), str(row.get("source") or SNAPSHOT), content,
                             str(row.get("sha256") or "") or content_sha256(content),
                             _seconds(row.get("until")))
    except (ValueError, TypeError, KeyError, TariffFormatError) as exc:
        log.warning("skipping an unreadable stored tariff version", time=row.get("time"),
                    source=row.get("source"), error=str(exc)[:200])
        return None


def load_timeline(sink: Any, site_id: int | str) -> Timeline:
    """Every stored tariff version of the site (raises ``SinkError`` when unreadable)."""
    rows = sink.query_influxql(
        f'SELECT * FROM "{TARIFF_VERSION.measurement}" WHERE {_where(site_id)}')
    return Timeline(v for v in map(_version, rows) if v is not None)


def snapshot_of(site_info: Mapping[str, Any], at: datetime) -> TariffVersion | None:
    """The tariff a site_info reply carries as a snapshot version seen at ``at``."""
    content = site_tariff_content(site_info)
    if not content:
        return None
    try:
        load_tariff(content)
    except TariffFormatError as exc:
        log.warning("the site's tariff cannot be read; it is not recorded", error=str(exc))
        return None
    return TariffVersion(int(at.timestamp()), SNAPSHOT, content)


class TariffRecorder:
    """Writes a ``tariff_version`` snapshot when a site's tariff differs from the last stored
    snapshot (that is read from InfluxDB once per site, then remembered)."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self._last: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def _last_sha(self, site_id: str) -> str | None:
        if site_id not in self._last:
            try:
                rows = self.sink.query_influxql(
                    f'SELECT last("sha256") FROM "{TARIFF_VERSION.measurement}" WHERE '
                    f"{_where(site_id)} AND \"source\" = '{SNAPSHOT}'")
            except CollectorError as exc:  # unknown: writing again is harmless
                log.info("cannot read the last stored tariff; recording it", error=str(exc))
                return None
            self._last[site_id] = str(rows[0].get("last")) if rows else None
        return self._last[site_id]

    def frame(self, site_id: int | str, site_info: Mapping[str, Any],
              at: datetime) -> Frame | None:
        """The snapshot point to write for this site_info reply, or None when unchanged."""
        version = snapshot_of(site_info, at)
        if version is None:
            return None
        key = str(site_id)
        with self._lock:
            if self._last_sha(key) == version.sha256:
                return None
            self._last[key] = version.sha256
        log.info("tariff recorded", site_id=key, tariff=version.title(),
                 sha256=version.sha256[:12])
        return version_frame(version, key)

    def record(self, site_id: int | str, site_info: Mapping[str, Any], at: datetime) -> bool:
        """Write the snapshot when changed; True when a point was written."""
        frame = self.frame(site_id, site_info, at)
        if frame is None:
            return False
        self.sink.write(frame)
        return True


def declared_version(content: Mapping[str, Any], start: datetime,
                     until: datetime | None) -> TariffVersion:
    """A ``tariff use`` declaration of ``content`` for [start, until)."""
    return TariffVersion(int(start.timestamp()), DECLARED, dict(content),
                         until=None if until is None else int(until.timestamp()))


# --- inputs and outputs of the computation ------------------------------------------------


def _frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """Rows of ``query_influxql`` as a frame with a sorted UTC index (missing columns: NaN)."""
    if not rows:
        return pd.DataFrame({c: [] for c in columns},
                            index=pd.DatetimeIndex([], tz="UTC", name="time"))
    return _indexed(pd.DataFrame.from_records(rows), columns)


def _series_frame(series: list[Any], columns: Sequence[str]) -> pd.DataFrame:
    """``_frame`` of the rows of ``query_series`` answers. Untagged series of the same columns
    (the month-sized chunks of one SELECT) become one frame straight from their value rows,
    the same frame ``from_records`` makes of their dicts at a fraction of the cost (a year of
    buckets is 105,000 rows); anything else goes through the dicts."""
    series = [s for s in series if s.values]
    if not series or any(s.tags or s.columns != series[0].columns for s in series):
        return _frame([{**s.tags, **dict(zip(s.columns, values, strict=True))}
                       for s in series for values in s.values], columns)
    values = series[0].values if len(series) == 1 else [v for s in series for v in s.values]
    return _indexed(pd.DataFrame(values, columns=series[0].columns), columns)


def _indexed(data: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    index = utc_index(data.pop("time").astype("int64").tolist())
    data.index = index
    for name in columns:
        if name not in data.columns:
            data[name] = np.nan
    return data.sort_index()


def _select(sink: Any, measurement: str, columns: Sequence[str], site_id: int | str,
            start: int, end: int, extra: str = "", chunked: bool = True) -> pd.DataFrame:
    """``SELECT columns`` of [start, end), in month-sized queries when ``chunked`` (bucket
    data), else in one (sparse data such as charges and sessions)."""
    select = ", ".join(f'"{c}"' for c in columns)
    queries = [f'SELECT {select} FROM "{measurement}" WHERE {_where(site_id, lo, hi)}{extra}'
               for lo, hi in (_chunks(start, end) if chunked else [(start, end)])]
    read_series = getattr(sink, "query_series", None)  # InfluxSink; other sinks give rows
    if read_series is not None:
        return _series_frame([s for query in queries for s in read_series(query)], columns)
    return _frame([row for query in queries for row in sink.query_influxql(query)], columns)


#: The energy_history fields the cost reads (for costs, demand peaks and solar shares).
ENERGY_INPUTS = ("grid_energy_imported", "total_grid_energy_exported", "total_home_usage",
                 "consumer_energy_imported_from_solar")


def read_energy(sink: Any, site_id: int | str, start: int, end: int) -> pd.DataFrame:
    """The stored energy buckets of [start, end) (epoch seconds), the fields cost needs."""
    return _select(sink, ENERGY_HISTORY.measurement, ENERGY_INPUTS, site_id, start, end)


def read_costs(sink: Any, site_id: int | str, start: int, end: int) -> pd.DataFrame:
    """The stored ``energy_cost`` points of [start, end), with their currency tag."""
    return _select(sink, ENERGY_COST.measurement, (*ENERGY_COST.field_names, "currency"),
                   site_id, start, end)


def read_charges(sink: Any, site_id: int | str, start: int, end: int,
                 charge: str | None = None) -> pd.DataFrame:
    """The stored ``energy_cost_charges`` points of [start, end) (only ``charge`` ones when
    given), with their tags."""
    extra = f' AND "charge" = {_quote(charge)}' if charge else ""
    return _select(sink, ENERGY_COST_CHARGES.measurement,
                   (*ENERGY_COST_CHARGES.field_names, "currency", "charge", "period"),
                   site_id, start, end, extra, chunked=False)


def read_sessions(sink: Any, site_id: int | str, start: int, end: int) -> pd.DataFrame:
    """The stored charge sessions starting in [start, end), with their ``din`` tag."""
    return _select(sink, CHARGE_SESSION.measurement,
                   ("energy_added_wh", "duration_seconds", "din"), site_id, start, end,
                   chunked=False)
