"""Frame -> InfluxDB line protocol, vectorized column by column (no per-row Python loop).

Used for everything that leaves the process: the write itself, the on-disk spool and the
``--dry-run`` output, so all three are byte-identical.

Types follow the column dtype, which the field tables fix: float columns are written as floats
(``780.0``, never ``780`` so nothing can be mistaken for an integer), integer columns with the
``i`` suffix, booleans as ``true``/``false``, everything else as a quoted string. A missing
value (NaN/NA/None, and non-finite floats) is left out of that point; a point with no field
left is not written; an empty or missing tag value is left out.

Escaping (InfluxDB line protocol): measurement ``,`` and space; tag keys, tag values and field
keys ``,`` ``=`` and space; string field values ``"`` and ``\\``. Backslashes in tags are not
escaped (InfluxDB 1.x keeps them literally). A line break inside a value cannot be carried by
line protocol and is written as the two characters ``\\n``.

Precision: seconds (``WRITE_PRECISION``). Every timestamp this product writes is a whole
second: API timestamps are whole seconds and collection times are floored to the second. A
frame with a sub-second timestamp is a programming error and raises ``ValueError`` rather than
being silently truncated (which could merge two points).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from pandas.api import types

from collector.transform.fields import Kind
from collector.transform.frame import Frame

WRITE_PRECISION = "s"
_NANOS_PER_SECOND = 1_000_000_000

_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\r": r"\r"})
_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\r": r"\r"})
_STRING = str.maketrans({'"': r"\"", "\\": "\\\\", "\n": r"\n", "\r": r"\r"})


def escape_measurement(name: str) -> str:
    return name.translate(_MEASUREMENT)


@lru_cache(maxsize=4096)
def escape_key(text: str) -> str:
    """Tag keys, tag values and field keys."""
    return text.translate(_KEY)


def escape_string(text: str) -> str:
    """A string field value, quoted."""
    return f'"{text.translate(_STRING)}"'


def epoch_seconds_of(index: pd.DatetimeIndex) -> np.ndarray:
    """Epoch seconds of a UTC index; raises ValueError for sub-second timestamps."""
    nanos = index.as_unit("ns").asi8
    if (nanos % _NANOS_PER_SECOND).any():
        raise ValueError("timestamps must be whole seconds (write precision is seconds)")
    return nanos // _NANOS_PER_SECOND


def _kind(dtype: object) -> Kind:
    if types.is_bool_dtype(dtype):
        return Kind.BOOL
    if types.is_integer_dtype(dtype):
        return Kind.INT
    if types.is_numeric_dtype(dtype):
        return Kind.FLOAT
    return Kind.STR


def _given(value: object) -> bool:
    return value is not None and value == value  # NaN != NaN


def _string_or_none(value: object) -> str | None:
    return escape_string(str(value)) if _given(value) else None


def _tag_or_none(value: object) -> str | None:
    return (escape_key(str(value)) or None) if _given(value) else None


_render_strings = np.frompyfunc(_string_or_none, 1, 1)
_render_tags = np.frompyfunc(_tag_or_none, 1, 1)


def _render_block(kind: Kind, keys: np.ndarray, block: np.ndarray) -> np.ndarray:
    """``key=value`` pieces (object array, None where absent) for all columns of one kind.

    ``keys`` is a row vector of escaped ``key=`` prefixes, broadcast over the rows of
    ``block`` (the columns' values, object dtype, None for missing).
    """
    if kind is Kind.FLOAT:
        floats = block.astype("float64")  # None -> NaN
        # numpy renders the shortest round-trip text: "780.0", "46.6731017783813", "1e+20".
        return np.where(np.isfinite(floats), keys + floats.astype(str).astype(object), None)
    present = block != None  # noqa: E711 - elementwise comparison
    if kind is Kind.INT:
        ints = np.where(present, block, 0).astype("int64").astype(str).astype(object)
        return np.where(present, keys + ints + "i", None)
    if kind is Kind.BOOL:
        return np.where(present, keys + np.where(block == True, "true", "false"), None)  # noqa: E712
    rendered = _render_strings(block)
    present = rendered != None  # noqa: E711
    return np.where(present, keys + np.where(present, rendered, ""), None)


def _field_pieces(frame: Frame, values: np.ndarray, positions: dict[str, int]) -> np.ndarray:
    """rows x fields object array of rendered pieces, in the frame's field order."""
    fields = frame.fields
    pieces = np.empty((len(values), len(fields)), dtype=object)
    by_kind: dict[Kind, list[int]] = {}
    dtypes = frame.data.dtypes
    for slot, name in enumerate(fields):
        by_kind.setdefault(_kind(dtypes[name]), []).append(slot)
    for kind, slots in by_kind.items():
        keys = np.array([escape_key(fields[s]) + "=" for s in slots], dtype=object)[None, :]
        block = values[:, [positions[fields[s]] for s in slots]]
        pieces[:, slots] = _render_block(kind, keys, block)
    return pieces


def _heads(frame: Frame, values: np.ndarray, positions: dict[str, int]) -> list[str]:
    """``measurement,tag=value,...`` per row (empty and missing tags left out)."""
    measurement = escape_measurement(frame.measurement)
    if not frame.tags:
        return [measurement] * len(values)
    keys = np.array(["," + escape_key(t) + "=" for t in frame.tags], dtype=object)[None, :]
    rendered = _render_tags(values[:, [positions[t] for t in frame.tags]])
    present = rendered != None  # noqa: E711
    pieces = np.where(present, keys + np.where(present, rendered, ""), "")
    return [measurement + "".join(row) for row in pieces.tolist()]


def to_line_protocol(frame: Frame) -> list[str]:
    """The frame's points as line-protocol lines (seconds precision), in index order.

    Values are rendered per column block with numpy; only the final join of each line's
    pieces is a per-row step.
    """
    if frame.empty:
        return []
    data = frame.data
    values = data.to_numpy(dtype=object, na_value=None)
    positions = {name: i for i, name in enumerate(data.columns)}
    heads = _heads(frame, values, positions)
    pieces = _field_pieces(frame, values, positions).tolist()
    stamps = epoch_seconds_of(data.index).astype(str).tolist()
    lines = []
    for head, row, stamp in zip(heads, pieces, stamps, strict=True):
        body = ",".join(filter(None, row))
        if body:
            lines.append(f"{head} {body} {stamp}")
    return lines
