"""History responses -> ``energy_history``, ``backup_event`` and ``charge_session`` frames.

- calendar_history kind=energy: one point per bucket start (UTC instant; rows are keyed by
  instant, so the repeated wall-clock hour of a fall-back day stays two distinct points). The
  API's Wh values are kept unchanged. The API omits zero-valued fields, so every known energy
  field is written on every row, as 0.0 when omitted; unknown new numeric fields are kept as
  float where present. ``time_series`` null or missing -> empty frame.
- calendar_history kind=backup: ``duration`` is in MILLISECONDS (the only recorded value fits
  that, see the reference); converted once, in ``backup_duration_seconds``.
- telemetry_history kind=charge: protobuf Timestamp/Duration objects; tag ``din`` when present.

Pure functions; malformed records, and implausible ones (a value off its field's limit, a
time outside the caller's ``TimeBounds``), are skipped with one warning per response.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import chain
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from collector.transform.fields import (
    BACKUP_EVENT,
    BUCKET_ENERGY,
    CHARGE_SESSION,
    ENERGY_HISTORY,
    ENERGY_HISTORY_NON_FIELDS,
    UNKNOWN_BUCKET_SECONDS,
    Field,
    ImplausibleRecord,
    Kind,
    MalformedRecord,
    Schema,
    TimeBounds,
    check_plausible,
    coerce,
    pick,
)
from collector.transform.frame import (
    Frame,
    Parsed,
    Row,
    build_frame,
    dedupe_by_time,
    empty_frame,
    log_skipped,
    not_an_object,
    parse_records,
    parse_time,
    parse_times,
    proto_duration_seconds,
    record_list,
    unwrap,
    utc_index,
)
from collector.transform.lineprotocol import float_lines

#: calendar_history kind=backup reports ``duration`` in milliseconds: this many per second.
#: (Divided by, not multiplied by its 0.001 inverse, so 1980032 ms is exactly 1980.032 s.)
BACKUP_DURATION_UNITS_PER_SECOND = 1000

_KNOWN_ENERGY = frozenset(ENERGY_HISTORY.field_names)


def backup_duration_seconds(duration: float) -> float:
    """The one place that converts a backup event's ``duration`` (ms) to seconds."""
    return float(duration) / BACKUP_DURATION_UNITS_PER_SECOND


def _body_list(response: Any, key: str) -> Any:
    body = unwrap(response)
    return body.get(key) if isinstance(body, Mapping) else None


class EnergyRows(NamedTuple):
    """One calendar_history kind=energy reply normalized, before any frame or line is built:
    the one definition ``energy_history_frame``, ``energy_history_lines`` and the cost's
    inputs use. Rows are sorted by instant, one per instant."""

    site_id: str
    #: Epoch seconds of each row (int64).
    seconds: np.ndarray
    #: The field names: every known energy field, then the unknown numeric ones.
    names: tuple[str, ...]
    #: rows x names float64 (NaN: an unknown field absent from that record).
    values: np.ndarray
    #: Records of the reply left out as malformed or implausible, and the first reason.
    skipped: int = 0
    skip_reason: str = ""

    def __len__(self) -> int:
        return len(self.seconds)


def energy_history_rows(response: Any, site_id: int | str,
                        bounds: TimeBounds | None = None) -> EnergyRows:
    """calendar_history kind=energy -> its rows (zero-omitted fields as 0.0).

    Built column-wise: the records are read once into a float matrix (the types checked per
    response; a response with a wrong-typed value takes the per-value path only to find the
    malformed rows), timestamps are parsed vectorized, and repeated instants keep the last row.
    A bucket dated outside ``bounds`` or with an energy off the plausible range for its
    length (``BUCKET_ENERGY``) is skipped like a malformed one (one warning per reply).
    """
    site = str(site_id)
    records = record_list(_body_list(response, "time_series"), "energy_history", site_id=site)
    if not records:
        return _no_rows(site)
    count = len(records)
    objects = [r if type(r) is dict or isinstance(r, Mapping) else _NOT_AN_OBJECT
               for r in records]
    bad = np.array([r is _NOT_AN_OBJECT for r in objects], dtype=bool)
    values, bad_values = _known_values(objects)
    bad |= bad_values
    seconds, bad_times = parse_times([r.get("timestamp") for r in objects])
    bad |= bad_times
    implausible, why = _implausible_rows(values, seconds, ~bad, bounds)
    extra = _unknown_columns(objects, bad | implausible)
    skipped = bad | implausible
    reason = ""
    if skipped.any():
        first = int(np.flatnonzero(skipped)[0])
        reason = _reason(records[first]) if bad[first] else why
        log_skipped("energy_history", int(skipped.sum()), count - int(skipped.sum()), reason,
                    site_id=site)
    keep = np.flatnonzero(~skipped)
    if not len(keep):
        return _no_rows(site, count, reason)
    keep = keep[_last_per_instant(seconds[keep])]
    matrix = values[keep]
    if extra:
        matrix = np.column_stack([matrix, *(column[keep] for column in extra.values())])
    return EnergyRows(site, seconds[keep], (*ENERGY_HISTORY.field_names, *extra), matrix,
                      int(skipped.sum()), reason)


def _no_rows(site: str, skipped: int = 0, reason: str = "") -> EnergyRows:
    names = ENERGY_HISTORY.field_names
    return EnergyRows(site, np.zeros(0, dtype="int64"), tuple(names),
                      np.zeros((0, len(names))), skipped, reason)


def energy_history_frame(response: Any, site_id: int | str,
                         bounds: TimeBounds | None = None) -> Frame:
    """calendar_history kind=energy -> ``energy_history`` (``energy_history_rows`` as a
    frame, for the code that needs one)."""
    return energy_rows_frame(energy_history_rows(response, site_id, bounds))


def energy_rows_frame(rows: EnergyRows) -> Frame:
    """``rows`` as an ``energy_history`` frame (``site_id`` tag column, then the fields)."""
    if not len(rows):
        return empty_frame(ENERGY_HISTORY).with_skipped(rows.skipped, rows.skip_reason)
    data = pd.DataFrame(rows.values, columns=list(rows.names),
                        index=utc_index(rows.seconds.tolist()))
    data.insert(0, "site_id", np.full(len(rows), rows.site_id, dtype=object))
    frame = Frame(ENERGY_HISTORY.measurement, data, ENERGY_HISTORY.tags)
    return frame.with_skipped(rows.skipped, rows.skip_reason)


def energy_history_lines(rows: EnergyRows) -> list[str]:
    """The line protocol of ``rows``, byte for byte what ``to_line_protocol`` makes of
    ``energy_rows_frame(rows)``, without pandas (an imported day is a few hundred points)."""
    return float_lines(ENERGY_HISTORY, {"site_id": rows.site_id}, rows.names, rows.values,
                       rows.seconds.tolist())


def bucket_seconds(seconds: np.ndarray) -> float:
    """The bucket length of a reply: the smallest step between its instants (a day when it
    has one bucket, so the energy limit is lenient when the length cannot be seen)."""
    steps = np.diff(np.unique(seconds))
    return float(steps.min()) if len(steps) else float(UNKNOWN_BUCKET_SECONDS)


def _implausible_rows(values: np.ndarray, seconds: np.ndarray, usable: np.ndarray,
                      bounds: TimeBounds | None) -> tuple[np.ndarray, str]:
    """(usable rows with an energy off ``BUCKET_ENERGY`` for the bucket length, or a time
    outside ``bounds``; the first such row's reason)."""
    step = bucket_seconds(seconds[usable])
    low, high = BUCKET_ENERGY.bounds(step)
    off_value = ~((values >= low) & (values <= high))
    off_time = (np.zeros(len(seconds), dtype=bool) if bounds is None
                else (seconds < bounds.earliest) | (seconds > bounds.latest))
    rows = (off_value.any(axis=1) | off_time) & usable
    if not rows.any():
        return rows, ""
    first = int(np.flatnonzero(rows)[0])
    try:
        if off_time[first]:
            assert bounds is not None
            bounds.check(int(seconds[first]))
        column = int(np.flatnonzero(off_value[first])[0])
        BUCKET_ENERGY.check(ENERGY_HISTORY.field_names[column], "Wh",
                            float(values[first, column]), step)
    except ImplausibleRecord as exc:
        return rows, str(exc)
    raise AssertionError("an implausible row passed its checks")


#: Stands in for a record that is not an object (it has no fields and no timestamp).
_NOT_AN_OBJECT: Mapping[str, Any] = MappingProxyType({})
_NUMBER_TYPES = frozenset({int, float, type(None)})


def _known_values(records: list[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(rows x known fields float matrix, 0.0 where omitted; malformed mask). Infinite values
    stay, for the plausibility check to reject."""
    names = ENERGY_HISTORY.field_names
    rows = [tuple(map(r.get, names)) for r in records]
    bad = np.zeros(len(rows), dtype=bool)
    if not set(map(type, chain.from_iterable(rows))) <= _NUMBER_TYPES:
        rows = [_coerced_row(row, bad, i) for i, row in enumerate(rows)]
    values = np.fromiter(chain.from_iterable(rows), dtype="float64",
                         count=len(rows) * len(names)).reshape(len(rows), len(names))
    values[np.isnan(values)] = 0.0  # None -> NaN -> 0.0
    return values, bad


def _coerced_row(row: tuple[Any, ...], bad: np.ndarray, i: int) -> tuple[Any, ...]:
    if set(map(type, row)) <= _NUMBER_TYPES:
        return row
    try:
        return tuple(coerce(f, v) for f, v in zip(ENERGY_HISTORY.fields, row, strict=True))
    except MalformedRecord:
        bad[i] = True
        return (None,) * len(row)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _unknown_columns(records: list[Mapping[str, Any]], bad: np.ndarray) -> dict[str, np.ndarray]:
    """New numeric fields the API may add: float columns (NaN where absent or not a number),
    in order of first numeric appearance in a well-formed record (bools/strings ignored)."""
    unknown = set().union(*records) - _NOT_UNKNOWN
    if not unknown:
        return {}
    order: dict[str, None] = {}
    for record, malformed in zip(records, bad.tolist(), strict=True):
        if not malformed:
            order.update(dict.fromkeys(k for k in record if k in unknown and _is_number(record[k])))
    return {name: np.array([float(v) if _is_number(v := r.get(name)) else math.nan
                            for r in records], dtype="float64") for name in order}


_NOT_UNKNOWN = _KNOWN_ENERGY | ENERGY_HISTORY_NON_FIELDS | frozenset(ENERGY_HISTORY.tags)


def _last_per_instant(seconds: np.ndarray) -> np.ndarray:
    """Positions that sort ``seconds`` by instant, a repeated instant keeping its last one."""
    if len(seconds) < 2 or (np.diff(seconds) > 0).all():
        return np.arange(len(seconds))
    reverse = seconds[::-1]
    _, first_in_reverse = np.unique(reverse, return_index=True)
    return len(seconds) - 1 - first_in_reverse


def _reason(record: Any) -> str:
    """Why ``record`` is malformed, exactly as the per-record rules report it."""
    try:
        if not isinstance(record, Mapping):
            raise not_an_object(record)
        pick(ENERGY_HISTORY.fields, record)
        parse_time(record.get("timestamp"))
    except MalformedRecord as exc:
        return str(exc)
    return "malformed record"


def backup_event_frame(response: Any, site_id: int | str,
                       bounds: TimeBounds | None = None) -> Frame:
    """calendar_history kind=backup -> ``backup_event`` (time = event start)."""
    site = str(site_id)
    duration = Field("duration", Kind.FLOAT)
    seconds_field = BACKUP_EVENT.fields[0]

    def parse(record: Mapping[str, Any]) -> Row:
        raw = pick((duration,), record).get("duration")
        values = {} if raw is None else {"duration_seconds": backup_duration_seconds(raw)}
        check_plausible(seconds_field, values.get("duration_seconds"))
        return Row(_start(record.get("timestamp"), bounds), {"site_id": site}, values)

    parsed = parse_records(_body_list(response, "events"), parse, "backup_event", site_id=site)
    return _history_frame(BACKUP_EVENT, parsed)


def charge_session_frame(response: Any, site_id: int | str,
                         bounds: TimeBounds | None = None) -> Frame:
    """telemetry_history kind=charge -> ``charge_session`` (time = charge start)."""
    site = str(site_id)
    energy, duration = CHARGE_SESSION.fields[:2]  # the API's fields (cost: collector.cost)

    def parse(record: Mapping[str, Any]) -> Row:
        values = pick((energy,), record)
        if record.get("charge_duration") is not None:
            values["duration_seconds"] = proto_duration_seconds(record["charge_duration"])
            check_plausible(duration, values["duration_seconds"])
        din = record.get("din")
        tags = {"site_id": site, "din": din if isinstance(din, str) and din else None}
        return Row(_start(record.get("charge_start_time"), bounds), tags, values)

    parsed = parse_records(_body_list(response, "charge_history"), parse, "charge_session",
                           site_id=site)
    return _history_frame(CHARGE_SESSION, parsed)


def _start(value: Any, bounds: TimeBounds | None) -> int:
    """A record's start instant (epoch seconds), checked against ``bounds``."""
    seconds = parse_time(value)
    if bounds is not None:
        bounds.check(seconds)
    return seconds


def _history_frame(schema: Schema, parsed: Parsed) -> Frame:
    frame = build_frame(schema, dedupe_by_time(parsed.rows))
    return frame.with_skipped(parsed.skipped, parsed.reason)


def calendar_history_frame(kind: str, response: Any, site_id: int | str,
                           bounds: TimeBounds | None = None) -> Frame:
    """Dispatch by history ``kind``: energy, backup or charge."""
    transforms = {"energy": energy_history_frame, "backup": backup_event_frame,
                  "charge": charge_session_frame}
    if kind not in transforms:
        raise ValueError(f"unknown history kind {kind!r}; expected one of {sorted(transforms)}")
    return transforms[kind](response, site_id, bounds)
