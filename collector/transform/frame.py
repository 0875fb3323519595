"""``Frame``: one measurement's points as a pandas DataFrame, and how frames are built.

A frame is the measurement name, a DataFrame indexed by a UTC ``DatetimeIndex`` (whole
seconds: the write precision is seconds, see ``lineprotocol``) and the names of its tag
columns; every other column is a field. Column dtypes follow ``fields.DTYPES`` so a field's
line-protocol type is fixed by the schema; a missing value (NaN/NA/None) is simply not
written for that point.

Also the shared helpers of the transforms: timestamp parsing (offset-aware ISO 8601 or
protobuf ``{"seconds": N}`` to epoch seconds), envelope unwrapping and the "skip a malformed
or implausible record, log once per batch" rule; a frame counts the records its response lost
that way (``skipped``), so callers can tell "nothing to write" from "everything dropped". No
I/O apart from that log line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from collector.log import get_logger
from collector.transform.fields import Kind, MalformedRecord, Schema

log = get_logger(__name__)


@dataclass(frozen=True)
class Frame:
    """Points of one measurement: ``data`` has a UTC DatetimeIndex; ``tags`` name tag columns."""

    measurement: str
    data: pd.DataFrame
    tags: tuple[str, ...] = field(default=())
    #: Records of the response left out as malformed or implausible, and the first reason.
    skipped: int = field(default=0, compare=False)
    skip_reason: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        index = self.data.index
        if not isinstance(index, pd.DatetimeIndex) or str(index.tz) != "UTC":
            raise ValueError(f"{self.measurement}: frame index must be a UTC DatetimeIndex")
        missing = [t for t in self.tags if t not in self.data.columns]
        if missing:
            raise ValueError(f"{self.measurement}: tag columns {missing} not in frame")

    @property
    def fields(self) -> list[str]:
        return [c for c in self.data.columns if c not in self.tags]

    def __len__(self) -> int:
        return len(self.data)

    @property
    def empty(self) -> bool:
        return len(self.data) == 0

    def with_skipped(self, count: int, reason: str) -> Frame:
        """This frame, noting ``count`` records of its response skipped (first ``reason``)."""
        return replace(self, skipped=count, skip_reason=reason) if count else self


@dataclass
class Row:
    """One point before it becomes a frame row: epoch seconds, tag values, field values."""

    time: int
    tags: dict[str, str]
    fields: dict[str, Any]


def utc_index(seconds: Iterable[int]) -> pd.DatetimeIndex:
    """A UTC DatetimeIndex (ns resolution) named ``time`` from epoch seconds."""
    values = np.fromiter(seconds, dtype="int64").astype("datetime64[s]").astype("datetime64[ns]")
    return pd.DatetimeIndex(values, name="time").tz_localize("UTC")


def build_frame(schema: Schema, rows: list[Row], extra_float_fields: Iterable[str] = (),
                fill_zero: bool = False) -> Frame:
    """A frame with every tag and field column of ``schema`` (plus extra float fields).

    Columns get the schema's dtypes; absent values stay NA unless ``fill_zero`` (the
    energy_history rule: the API omits zero-valued fields), which applies to the schema's
    fields only; extra fields stay NA where absent.
    """
    columns: dict[str, Any] = {}
    for tag in schema.tags:
        columns[tag] = np.array([r.tags.get(tag) for r in rows], dtype=object)
    for spec in schema.fields:
        columns[spec.name] = _column([r.fields.get(spec.name) for r in rows], spec.kind,
                                     fill_zero)
    for name in extra_float_fields:
        if name not in columns:
            columns[name] = _column([r.fields.get(name) for r in rows], Kind.FLOAT, False)
    data = pd.DataFrame(columns, index=utc_index(r.time for r in rows))
    return Frame(schema.measurement, data, schema.tags)


_MASKED = {Kind.INT: (pd.arrays.IntegerArray, "int64", 0),
           Kind.BOOL: (pd.arrays.BooleanArray, "bool", False)}


def _column(values: list[Any], kind: Kind, fill_zero: bool) -> Any:
    """One column in the dtype of ``fields.DTYPES`` (built directly: this runs every poll)."""
    if kind is Kind.FLOAT:
        missing = 0.0 if fill_zero else math.nan
        return np.array([missing if v is None else v for v in values], dtype="float64")
    if kind is Kind.STR:
        return np.array(values, dtype=object)
    array_type, dtype, filler = _MASKED[kind]
    mask = np.array([v is None for v in values], dtype=bool)
    data = np.array([filler if v is None else v for v in values], dtype=dtype)
    return array_type(data, mask)


def empty_frame(schema: Schema) -> Frame:
    return build_frame(schema, [])


# --- shared parsing helpers ---


def unwrap(payload: Any) -> Any:
    """The inner value of a ``{"response": ...}`` envelope; other values unchanged."""
    envelope = {"response", "error", "error_description"}
    if isinstance(payload, Mapping) and "response" in payload and set(payload) <= envelope:
        return payload["response"]
    return payload


def parse_time(value: Any) -> int:
    """Epoch seconds (floored) of an offset-aware ISO 8601 string or ``{"seconds": N}``."""
    if isinstance(value, Mapping):
        return _proto_seconds(value, "timestamp", allow_missing=False)
    if not isinstance(value, str):
        raise MalformedRecord(f"timestamp: expected a string, got {value!r:.40}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedRecord(f"timestamp: cannot parse {value!r:.40}") from None
    if parsed.tzinfo is None:
        raise MalformedRecord(f"timestamp: {value!r:.40} has no UTC offset")
    return math.floor(parsed.timestamp())


#: ``YYYY-MM-DDTHH:MM:SS+HH:MM`` / ``...-HH:MM`` (25 characters): the API's timestamp form,
#: parsed vectorized; anything else goes through ``parse_time`` one by one.
_ISO_OFFSET_LENGTH = 25
_CANONICAL_MARKS = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":", 22: ":"}
_MARK_POSITIONS = np.array(list(_CANONICAL_MARKS))
_MARK_CODES = np.array([ord(mark) for mark in _CANONICAL_MARKS.values()])
#: (first, last + 1) character of each number of the canonical form, and its exclusive limit:
#: year, month, day, hour, minute, second, offset hours, offset minutes.
_CANONICAL_NUMBERS = ((0, 4, 10_000), (5, 7, 13), (8, 10, 32), (11, 13, 24), (14, 16, 60),
                      (17, 19, 60), (20, 22, 24), (23, 25, 60))
_DIGIT_POSITIONS = np.array([i for first, last, _ in _CANONICAL_NUMBERS
                             for i in range(first, last)])
#: digits x numbers: the place value of each digit in its number.
_PLACE_VALUES = np.array([[10 ** (last - 1 - i) if first <= i < last else 0
                           for first, last, _ in _CANONICAL_NUMBERS] for i in _DIGIT_POSITIONS])
_NUMBER_LIMITS = np.array([limit for _, _, limit in _CANONICAL_NUMBERS])
_DAYS_BEFORE_MONTH = np.array([0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334])
_DAYS_IN_MONTH = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_UNIX_EPOCH_ORDINAL = 719_163  # date(1970, 1, 1).toordinal()


def parse_times(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """``parse_time`` for many values at once: (epoch seconds int64, malformed mask).

    Canonical offset timestamps with in-range numbers are computed vectorized with integer
    arithmetic; other forms go through ``parse_time``, so the accepted values and the results
    are exactly ``parse_time``'s.
    """
    count = len(values)
    seconds = np.zeros(count, dtype="int64")
    bad = np.zeros(count, dtype=bool)
    slow = np.ones(count, dtype=bool)
    if count and set(map(type, values)) == {str}:
        text = np.array(values, dtype=str)
        if text.dtype.itemsize // 4 >= _ISO_OFFSET_LENGTH:
            codes = text.view(np.uint32).reshape(count, -1)[:, :_ISO_OFFSET_LENGTH]
            fast, stamps = _canonical_seconds(codes)
            fast &= np.fromiter(map(len, values), dtype=np.int64, count=count) == len(codes[0])
            seconds[fast] = stamps[fast]
            slow &= ~fast
    for i in np.flatnonzero(slow).tolist():
        try:
            seconds[i] = parse_time(values[i])
        except MalformedRecord:
            bad[i] = True
    return seconds, bad


def _canonical_seconds(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows in the canonical form with valid numbers and a real date, their epoch seconds)
    of ``count x 25`` code points (shorter strings are padded with NUL: they fail the marks)."""
    sign = codes[:, 19]
    ok = ((sign == ord("+")) | (sign == ord("-"))) & (
        codes[:, _MARK_POSITIONS] == _MARK_CODES).all(axis=1)
    digits = codes[:, _DIGIT_POSITIONS].astype(np.int64) - ord("0")
    ok &= ((digits >= 0) & (digits <= 9)).all(axis=1)
    numbers = digits @ _PLACE_VALUES
    ok &= (numbers < _NUMBER_LIMITS).all(axis=1)
    year, month, day, hour, minute, second, offset_hours, offset_minutes = numbers.T
    month = np.where(ok, month, 1)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    ok &= (year >= 1) & (month >= 1) & (day >= 1)
    ok &= day <= _DAYS_IN_MONTH[month] - ((month == 2) & ~leap)
    before = year - 1
    ordinal = (before * 365 + before // 4 - before // 100 + before // 400
               + _DAYS_BEFORE_MONTH[month] + ((month > 2) & leap) + day)
    offset = np.where(sign == ord("-"), -60, 60) * (offset_hours * 60 + offset_minutes)
    stamps = ((ordinal - _UNIX_EPOCH_ORDINAL) * 86_400 + hour * 3600 + minute * 60 + second
              - offset)
    return ok, stamps


def epoch_seconds(moment: datetime) -> int:
    """Whole epoch seconds of an aware datetime (collection times are floored to the second)."""
    if moment.tzinfo is None:
        raise ValueError("collection time must be timezone-aware")
    return math.floor(moment.timestamp())


def proto_duration_seconds(value: Any) -> float:
    """Seconds of a protobuf Duration: ``{"seconds": N, "nanos": M}`` (zeros omitted), a
    ``"3600s"`` string or a plain number."""
    if isinstance(value, Mapping):
        return float(_proto_seconds(value, "duration", allow_missing=True)) + _nanos(value)
    if isinstance(value, str) and value.endswith("s"):
        value = value[:-1]
    try:
        if isinstance(value, bool):
            raise TypeError
        return float(value)
    except (TypeError, ValueError):
        raise MalformedRecord(f"duration: cannot parse {value!r:.40}") from None


def _proto_seconds(value: Mapping, what: str, allow_missing: bool) -> int:
    raw = value.get("seconds")
    if raw is None and allow_missing:
        return 0
    try:
        if isinstance(raw, bool) or raw is None:
            raise TypeError
        return int(raw)
    except (TypeError, ValueError):
        raise MalformedRecord(f"{what}: bad seconds {raw!r:.40}") from None


def _nanos(value: Mapping) -> float:
    raw = value.get("nanos") or 0
    return raw / 1e9 if isinstance(raw, int | float) and not isinstance(raw, bool) else 0.0


def record_list(records: Any, what: str, **context: Any) -> list[Any]:
    """The response's list of records; None -> []; anything else -> [] and a warning."""
    if records is None:
        return []
    if not isinstance(records, list):
        log.warning("malformed_response", what=what, reason="expected a list", **context)
        return []
    return records


def log_skipped(what: str, skipped: int, kept: int, first_reason: str, **context: Any) -> None:
    """The one warning per response for its skipped malformed records."""
    log.warning("malformed_records_skipped", what=what, skipped=skipped, kept=kept,
                first_reason=first_reason, **context)


def not_an_object(record: Any) -> MalformedRecord:
    return MalformedRecord(f"record is {type(record).__name__}, not an object")


class Parsed(NamedTuple):
    """The usable rows of a response, how many records were skipped and the first reason."""

    rows: list[Row]
    skipped: int = 0
    reason: str = ""


def parse_records(records: Any, parse: Callable[[Any], Row], what: str,
                  **context: Any) -> Parsed:
    """Parse each record with ``parse``; malformed and implausible ones are skipped and
    logged once per call."""
    records = record_list(records, what, **context)
    rows: list[Row] = []
    skipped: list[str] = []
    for record in records:
        try:
            if not isinstance(record, Mapping):
                raise not_an_object(record)
            rows.append(parse(record))
        except MalformedRecord as exc:
            skipped.append(str(exc))
    if skipped:
        log_skipped(what, len(skipped), len(rows), skipped[0], **context)
    return Parsed(rows, len(skipped), skipped[0] if skipped else "")


def dedupe_by_time(rows: list[Row]) -> list[Row]:
    """Rows sorted by UTC instant; a repeated instant keeps the last record seen."""
    by_time = {}
    for row in rows:
        by_time[(row.time, tuple(sorted(row.tags.items())))] = row
    return sorted(by_time.values(), key=lambda r: r.time)
