"""Frame -> InfluxDB line protocol: values rendered per column block, lines by one template.

Used for everything that leaves the process: the write itself, the on-disk spool and the
``--dry-run`` output, so all three are byte-identical.

Types follow the column dtype, which the field tables fix: float columns are written as floats
(``780.0``, never ``780`` so nothing can be mistaken for an integer), integer columns with the
``i`` suffix, booleans as ``true``/``false``, everything else as a quoted string. A missing
value (NaN/NA/None, and non-finite floats) is left out of that point; a point with no field
left is not written; an empty or missing tag value is left out.

Escaping: every text is first made *storable* (``storable_name`` / ``storable_string``), then
escaped. What InfluxDB's parsers (Go: 1.x and 2.x; Rust: 3 Core) can carry, and what is done
with the rest, on purpose rather than by writing a broken line:

- Measurement, tag keys, tag values and field keys escape ``,`` ``=`` and space (measurements
  ``,`` and space) with a backslash; ``"``, non-ASCII and control characters are written as
  they are. A backslash followed by any other character is kept literally.
- A backslash at the END of a name or tag value cannot be written at all: every parser reads it
  as escaping the delimiter after it (the 3 Core parser names the rule: "may not end with a
  backslash"). A backslash before another backslash, ``,`` ``=`` space or ``"`` is read
  differently by the Go and Rust parsers. Such backslashes are dropped (``Home\\`` is stored
  as ``Home``, ``a\\\\b`` as ``a\\b``), so the line parses, and means the same, everywhere.
- Tabs and line breaks in names become spaces (3 Core ends a tag at a tab; no line may break);
  NUL becomes U+FFFD (3 Core refuses it in measurements, and InfluxQL cannot always name a
  field holding it).
- String field values escape ``"`` and ``\\``; a line break (CR or LF) becomes a space: the
  line must stay one line (the spool and the dead-letter file are line-based).
- A lone UTF-16 surrogate (possible in decoded JSON, not encodable as UTF-8) becomes U+FFFD.
- A name that is empty after this is left out (tag or field); a measurement that is empty or
  starts with ``#`` (a comment line) is a programming error (``ValueError``).

Precision: seconds (``WRITE_PRECISION``). Every timestamp this product writes is a whole
second: API timestamps are whole seconds and collection times are floored to the second. A
frame with a sub-second timestamp is a programming error and raises ``ValueError`` rather than
being silently truncated (which could merge two points).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types

from collector.transform.fields import Kind, Schema
from collector.transform.frame import Frame, Row

WRITE_PRECISION = "s"
_NANOS_PER_SECOND = 1_000_000_000

_NAME_REPLACEMENTS = str.maketrans({"\t": " ", "\n": " ", "\r": " ", "\x00": "\ufffd"})
_STRING_ESCAPES = str.maketrans({'"': r"\"", "\\": "\\\\", "\n": " ", "\r": " "})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})
_KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
#: A run of backslashes before the end, another backslash, or a character that is escaped or
#: read differently after a backslash: the whole run goes; before any other character the run
#: becomes one backslash (the lookahead makes ``\\+`` stop one short of that character).
_UNPORTABLE_BACKSLASHES = re.compile(r'\\+(?=[,= "]|$)|\\+(?=\\)')
_SURROGATES = re.compile("[\ud800-\udfff]")


def _without_surrogates(text: str) -> str:
    return text if text.isascii() else _SURROGATES.sub("\ufffd", text)


def storable_name(text: str) -> str:
    """``text`` as InfluxDB stores it in a measurement, tag key, tag value or field key (see
    the module docstring): blanks to spaces, NUL to U+FFFD, unportable backslashes dropped."""
    text = _without_surrogates(text.translate(_NAME_REPLACEMENTS))
    return _UNPORTABLE_BACKSLASHES.sub("", text) if "\\" in text else text


def storable_string(text: str) -> str:
    """``text`` as InfluxDB stores it in a string field: line breaks become spaces."""
    return _without_surrogates(text.replace("\r", " ").replace("\n", " "))


@lru_cache(maxsize=64)
def escape_measurement(name: str) -> str:
    text = storable_name(name)
    if not text or text.startswith("#"):
        raise ValueError(f"{name!r} cannot be a measurement name (empty, or a comment line)")
    return text.translate(_MEASUREMENT_ESCAPES)


@lru_cache(maxsize=4096)
def escape_key(text: str) -> str:
    """Tag keys, tag values and field keys ("" when nothing storable is left)."""
    return storable_name(text).translate(_KEY_ESCAPES)


def escape_string(text: str) -> str:
    """A string field value, quoted."""
    return f'"{_without_surrogates(text.translate(_STRING_ESCAPES))}"'


def epoch_seconds_of(index: pd.DatetimeIndex) -> np.ndarray:
    """Epoch seconds of a UTC index; raises ValueError for sub-second timestamps."""
    nanos = index.as_unit("ns").asi8
    if (nanos % _NANOS_PER_SECOND).any():
        raise ValueError("timestamps must be whole seconds (write precision is seconds)")
    return nanos // _NANOS_PER_SECOND


@lru_cache(maxsize=64)
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


def _int_text(value: object) -> str:
    return f"{int(value)}i"  # type: ignore[call-overload]


def _float_text(value: object) -> str | None:
    """``repr`` of the float: the shortest round-trip text (what ``_float_texts`` gives)."""
    number = float(value)  # type: ignore[arg-type]
    return repr(number) if math.isfinite(number) else None


#: One present value's text per field kind, for ``row_line`` (None: not written).
_SCALAR_TEXTS = {Kind.FLOAT: _float_text, Kind.INT: _int_text,
                 Kind.BOOL: lambda value: "true" if value else "false",
                 Kind.STR: lambda value: escape_string(str(value))}


@lru_cache(maxsize=64)
def _row_plan(schema: Schema) -> tuple[str, tuple[tuple[str, str], ...], tuple[Any, ...]]:
    """(escaped measurement, (tag, ``,key=``) pairs, (field, ``key=``, text function)...) of
    a schema, leaving out keys with nothing storable."""
    tags = tuple((tag, "," + escape_key(tag) + "=") for tag in schema.tags if escape_key(tag))
    fields = tuple((spec.name, escape_key(spec.name) + "=", _SCALAR_TEXTS[spec.kind])
                   for spec in schema.fields if escape_key(spec.name))
    return escape_measurement(schema.measurement), tags, fields


def row_line(schema: Schema, row: Row) -> str | None:
    """One ``Row`` of ``schema`` as a line, without building a frame: byte for byte the line
    ``to_line_protocol(build_frame(schema, [row]))`` gives (None when no field is left). For
    the one-point frames of a live poll, where pandas would cost far more than the point."""
    _, _, fields = _row_plan(schema)
    values = row.fields
    pieces = []
    for name, key, render in fields:
        value = values.get(name)
        if value is not None and (text := render(value)) is not None:
            pieces.append(key + text)
    if not pieces:
        return None
    return f"{_head(schema, row.tags)} {','.join(pieces)} {row.time}"


def _head(schema: Schema, tags: Mapping[str, Any]) -> str:
    """``measurement,tag=value,...`` of a point of ``schema`` (empty and missing tags left
    out): what ``_heads`` gives each row of a frame with these tag values."""
    measurement, keys, _ = _row_plan(schema)
    head = [measurement]
    for tag, key in keys:
        text = _tag_or_none(tags.get(tag))
        if text is not None:
            head.append(key + text)
    return "".join(head)


def float_lines(schema: Schema, tags: Mapping[str, Any], names: Sequence[str],
                values: np.ndarray, stamps: list[int]) -> list[str]:
    """Lines of points of ``schema`` that share ``tags`` and hold only float fields:
    ``names`` are the columns of ``values`` (NaN and infinities: absent), ``stamps`` the
    epoch seconds of its rows. Byte for byte what ``to_line_protocol`` writes for the frame
    of the same points, without building one (an imported day is a few hundred points)."""
    if not stamps:
        return []
    texts, present = _float_texts(values)
    keys = [escape_key(name) for name in names]
    if present.all() and all(keys):
        return _joined_lines(_head(schema, tags), keys, texts, stamps)
    table = np.empty((len(stamps), len(names) + 1), dtype=object)
    table[:, 0] = _head(schema, tags)
    table[:, 1:] = texts
    bodies = _assemble(table, present, keys, [])
    return [f"{body} {stamp}" for body, stamp in zip(bodies, stamps, strict=True)
            if body is not None]


def _joined_lines(head: str, keys: list[str], texts: np.ndarray, stamps: list[int]) -> list[str]:
    """``head k1=t1,k2=t2,... stamp`` for every row of ``texts`` (every value present): the
    pieces of all rows are joined once and the result split at its newlines, a third cheaper
    than formatting row by row. Keys and tags are escaped and values are numbers, so no piece
    holds a newline; should one ever, the rows are joined one by one instead."""
    rows, width = texts.shape
    pieces = np.empty((rows, 2 * width + 1), dtype=object)
    pieces[:, 0:2 * width:2] = [f"{head} {keys[0]}=", *(f",{key}=" for key in keys[1:])]
    pieces[:, 1:2 * width:2] = texts
    pieces[:, 2 * width] = [f" {stamp}\n" for stamp in stamps]
    lines = "".join(pieces.ravel().tolist()).split("\n")
    if len(lines) != rows + 1:
        return ["".join(row)[:-1] for row in pieces.tolist()]
    lines.pop()
    return lines


@lru_cache(maxsize=1)
def _whole_number_texts() -> np.ndarray:
    """``"0.0"``, ``"1.0"``, ... for the small whole numbers most energy values are."""
    return np.array([f"{i}.0" for i in range(1 << 14)], dtype=object)


def _float_texts(floats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value texts, present mask) of a float block: ``repr`` text, the shortest round-trip
    form (``780.0``, ``38509.6384``, ``1e+20``), always with a ``.`` or exponent; small whole
    numbers come from a table (same text, no per-value formatting), other values are formatted
    once per distinct value; non-finite is absent."""
    present = np.isfinite(floats)
    texts = np.empty(floats.shape, dtype=object)
    table = _whole_number_texts()
    with np.errstate(invalid="ignore"):
        small = (present & (floats >= 0) & (floats < len(table)) & (floats == np.floor(floats))
                 & ~np.signbit(floats))
    texts[small] = table[floats[small].astype(np.intp)]
    other = present & ~small
    if other.any():
        # Each distinct value is formatted once (costs and prices repeat a lot).
        distinct, inverse = np.unique(floats[other], return_inverse=True)
        rendered = np.array(list(map(repr, distinct.tolist())), dtype=object)
        texts[other] = rendered[inverse.ravel()]
    return texts, present


def _value_texts(kind: Kind, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value texts, present mask) of a block of object values (None where missing)."""
    if kind is Kind.FLOAT:
        return _float_texts(values.astype("float64"))  # None -> NaN
    present = values != None  # noqa: E711 - elementwise comparison
    texts = np.empty(values.shape, dtype=object)
    if kind is Kind.INT:
        texts[present] = [_int_text(v) for v in values[present].tolist()]
    elif kind is Kind.BOOL:
        texts[present] = np.where(values[present] == True, "true", "false")  # noqa: E712
    else:
        rendered = _render_strings(values)
        present = rendered != None  # noqa: E711
        texts[present] = rendered[present]
    return texts, present


def _field_texts(frame: Frame, kinds: list[Kind],
                 values: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """rows x fields (value texts, present mask), in the frame's field order. ``values`` is the
    whole frame as objects, or None when every field is a float (read as one float block)."""
    data = frame.data
    positions = [i for i, name in enumerate(data.columns) if name not in frame.tags]
    if values is None:
        return _float_texts(data.iloc[:, positions].to_numpy(dtype="float64", na_value=np.nan))
    shape = (len(data), len(positions))
    texts = np.empty(shape, dtype=object)
    present = np.zeros(shape, dtype=bool)
    by_kind: dict[Kind, list[int]] = {}
    for slot, position in enumerate(positions):
        by_kind.setdefault(kinds[position], []).append(slot)
    for kind, slots in by_kind.items():
        block = values[:, [positions[s] for s in slots]]
        texts[:, slots], present[:, slots] = _value_texts(kind, block)
    return texts, present


def _constant(column: np.ndarray) -> bool:
    """Whether an object column holds one and the same string on every row."""
    first = column[0] if len(column) else None
    return isinstance(first, str) and bool((column == first).all())


def _heads(frame: Frame, values: np.ndarray | None) -> list[str]:
    """``measurement,tag=value,...`` per row (empty and missing tags left out); each distinct
    tag value is escaped once."""
    measurement = escape_measurement(frame.measurement)
    heads = [measurement] * len(frame.data)
    uniform = True  # every head is the same string (constant tags so far)
    for tag in frame.tags:
        if not escape_key(tag):
            continue  # nothing storable left of the key: the tag cannot be written
        if values is None:
            column = frame.data[tag].to_numpy(dtype=object, na_value=None)
        else:
            column = values[:, frame.data.columns.get_loc(tag)]
        key = "," + escape_key(tag) + "="
        if uniform and _constant(column):
            text = _tag_or_none(column[0])
            heads = [heads[0] + ("" if text is None else key + text)] * len(heads)
            continue
        uniform = False
        rendered: dict[Any, str] = {}
        pieces = []
        for value in column.tolist():
            try:
                piece = rendered[value]
            except KeyError:
                text = _tag_or_none(value)
                piece = rendered[value] = "" if text is None else key + text
            except TypeError:  # unhashable: render it each time
                text = _tag_or_none(value)
                piece = "" if text is None else key + text
            pieces.append(piece)
        heads = [head + piece for head, piece in zip(heads, pieces, strict=True)]
    return heads


#: Above this many distinct present-field patterns, lines are joined row by row.
_MAX_PATTERNS = 32


def _constant_strings(frame: Frame) -> dict[str, str]:
    """String fields that hold one and the same value on every row of a multi-row frame
    (e.g. a tariff hash): rendered once, into the line template, instead of per row."""
    constants: dict[str, str] = {}
    if len(frame) < 2:
        return constants
    tags = set(frame.tags)
    for name, dtype in frame.data.dtypes.items():
        if name in tags or _kind(dtype) is not Kind.STR:
            continue
        values = frame.data[name].to_numpy(dtype=object)
        if _constant(values):
            constants[name] = escape_string(values[0])
    return constants


def to_line_protocol(frame: Frame) -> list[str]:
    """The frame's points as line-protocol lines (seconds precision), in index order.

    Values are rendered per column block with numpy; rows sharing the same set of present
    fields are formatted with one ``%`` template (``head key=value,...``), then the stamp is
    appended. A string field with the same value on every row is written once into the
    template (after the other fields), so frames of floats plus such a field take the
    all-float path; in a large all-float frame, rows with the same tags and values (night
    buckets, costs of equal buckets) are formatted once.
    """
    if frame.empty:
        return []
    constants = _constant_strings(frame)
    if constants:
        frame = Frame(frame.measurement, frame.data.drop(columns=list(constants)), frame.tags)
    literals = [f"{escape_key(name)}={text}".replace("%", "%%")
                for name, text in constants.items()]
    stamps = epoch_seconds_of(frame.data.index).tolist()
    distinct = _distinct_rows(frame)
    if distinct is None:
        bodies, codes = _bodies(frame, literals), range(len(stamps))
    else:
        first, codes = distinct
        bodies = _bodies(Frame(frame.measurement, frame.data.iloc[first], frame.tags),
                         literals)
    return [f"{bodies[c]} {s}" for c, s in zip(codes, stamps, strict=True)
            if bodies[c] is not None]


#: All-float frames from this many rows on are checked for repeated rows.
_DISTINCT_MIN_ROWS = 1000


def _floats_only(frame: Frame) -> bool:
    return all(_kind(frame.data[name].dtype) is Kind.FLOAT for name in frame.fields)


def _distinct_rows(frame: Frame) -> tuple[np.ndarray, list[int]] | None:
    """(position of each distinct row's first occurrence, per row the number of its distinct
    row) for a large all-float frame whose rows repeat; None otherwise. Rows are the same when
    their tag values and the bytes of their field values are."""
    if len(frame) < _DISTINCT_MIN_ROWS or not _floats_only(frame):
        return None
    data = frame.data
    columns = [data[list(frame.fields)].to_numpy(dtype="float64", na_value=np.nan)]
    columns += [pd.factorize(data[tag], use_na_sentinel=True)[0].astype("float64")[:, None]
                for tag in frame.tags]
    matrix = np.ascontiguousarray(np.hstack(columns))
    keys = matrix.view(np.dtype((np.void, matrix.dtype.itemsize * matrix.shape[1]))).ravel()
    codes, distinct = pd.factorize(keys)
    if len(distinct) > len(frame) // 2:
        return None
    first = np.full(len(distinct), len(frame), dtype=np.intp)
    np.minimum.at(first, codes, np.arange(len(frame)))
    return first, codes.tolist()


def _bodies(frame: Frame, literals: list[str]) -> list[str | None]:
    """``measurement,tags fields`` of every row (None where a row has no field to write)."""
    kinds = [_kind(dtype) for dtype in frame.data.dtypes.tolist()]
    tags = set(frame.tags)
    floats_only = all(kind is Kind.FLOAT for kind, name in zip(kinds, frame.data.columns,
                                                                strict=True) if name not in tags)
    # Small or mixed frames are read once as objects; all-float frames as one float block.
    values = None if floats_only and len(frame) > 16 else (
        frame.data.to_numpy(dtype=object, na_value=None))
    texts, present = _field_texts(frame, kinds, values)
    table = np.empty((len(texts), texts.shape[1] + 1), dtype=object)
    table[:, 0] = _heads(frame, values)
    table[:, 1:] = texts
    return _assemble(table, present, [escape_key(name) for name in frame.fields], literals)


def _assemble(table: np.ndarray, present: np.ndarray, names: list[str],
              literals: list[str]) -> list[str | None]:
    """The bodies of ``table`` (head, value texts...) whose values are ``present``, fields
    keyed by the escaped ``names`` (an empty one is not written), ``literals`` appended."""
    if not all(names):  # a field key with nothing storable left is not written
        present &= np.array([bool(name) for name in names])
    keys = [name.replace("%", "%%") + "=%s" for name in names]
    if present.all():
        return _format(table, keys + literals)
    patterns, inverse = np.unique(present, axis=0, return_inverse=True)
    if len(patterns) > _MAX_PATTERNS:
        return _join_rows(table, present, names, [t.replace("%%", "%") for t in literals])
    bodies = np.full(len(table), None, dtype=object)
    for number, pattern in enumerate(patterns):
        if not pattern.any() and not literals:
            continue
        rows = np.flatnonzero(inverse.ravel() == number)
        columns = [0, *(np.flatnonzero(pattern) + 1).tolist()]
        bodies[rows] = _format(table[np.ix_(rows, columns)],
                               [keys[c - 1] for c in columns[1:]] + literals)
    return bodies.tolist()


def _format(table: np.ndarray, keys: list[str]) -> list[str]:
    """One body per row of ``table`` (head, value texts...), all values present."""
    template = "%s " + ",".join(keys)
    return [template % row for row in map(tuple, table.tolist())]


def _join_rows(table: np.ndarray, present: np.ndarray, names: list[str],
               literals: list[str]) -> list[str | None]:
    """Row-by-row join for frames whose rows have many different present-field sets."""
    bodies: list[str | None] = []
    for row, mask in zip(table.tolist(), present.tolist(), strict=True):
        pieces = [n + "=" + t for n, t, m in zip(names, row[1:], mask, strict=True) if m]
        body = ",".join(pieces + literals)
        bodies.append(f"{row[0]} {body}" if body else None)
    return bodies
