"""Line protocol against InfluxDB's real parser: arbitrary text in every place of a line is
written to the suite's influxd and read back with InfluxQL, exactly as ``storable_name`` /
``storable_string`` say; and those change only what line protocol cannot carry.

The strings come from hypothesis (derandomized, so every run tries the same examples), biased
towards the characters line protocol treats specially.
"""

from __future__ import annotations

import itertools
import re
import urllib.error

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.transform import Frame, to_line_protocol
from collector.transform.frame import utc_index
from collector.transform.lineprotocol import escape_measurement, storable_name, storable_string

SPECIAL = list('\\,= "\t\n\r#=\x00\x01é€\u2028') + ["\\\\", "\\ ", "\\,", '\\"']
TEXT = st.lists(st.one_of(st.sampled_from(SPECIAL), st.characters()), max_size=8).map("".join)
TEXTS = st.lists(TEXT, min_size=1, max_size=20)
AGAINST_INFLUXD = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                           suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                  HealthCheck.too_slow])
#: InfluxDB refuses "time" as a tag or field key (it is the timestamp column).
RESERVED = {"time"}
_stamps = itertools.count(1_000_000)


def _frame(measurement: str, columns: dict, count: int, tags: tuple[str, ...] = ()) -> Frame:
    seconds = [next(_stamps) for _ in range(count)]
    return Frame(measurement, pd.DataFrame(columns, index=utc_index(seconds)), tags)


def _written(influxd, db: str, frame: Frame) -> list[str]:
    lines = to_line_protocol(frame)
    assert all("\n" not in line and "\r" not in line for line in lines)
    try:
        influxd.write_lines(db, lines) if lines else None
    except urllib.error.HTTPError as exc:
        pytest.fail(f"influxd refused {lines!r}: {exc.read()!r}")
    return lines


def _times(frame: Frame) -> list[int]:
    return (frame.data.index.as_unit("s").asi8).tolist()


def _between(frame: Frame) -> str:
    times = _times(frame)
    return f"time >= {min(times)}s AND time <= {max(times)}s"


@pytest.mark.integration
@AGAINST_INFLUXD
@given(values=TEXTS)
def test_tag_values_read_back_as_stored(influxd, influx_db, values):
    frame = _frame("lp_tag", {"t": np.array(values, dtype=object),
                              "n": np.arange(len(values), dtype="float64")}, len(values), ("t",))
    _written(influxd, influx_db, frame)
    rows = influxd.query(f'SELECT "n", "t" FROM "lp_tag" WHERE {_between(frame)}', db=influx_db)
    got = {row["time"]: row["t"] for row in rows}
    expected = {t: storable_name(v) or None for t, v in zip(_times(frame), values, strict=True)}
    assert got == expected


@pytest.mark.integration
@AGAINST_INFLUXD
@given(values=TEXTS)
def test_string_field_values_read_back_as_stored(influxd, influx_db, values):
    frame = _frame("lp_string", {"s": np.array(values, dtype=object)}, len(values))
    _written(influxd, influx_db, frame)
    rows = influxd.query(f'SELECT "s" FROM "lp_string" WHERE {_between(frame)}', db=influx_db)
    got = {row["time"]: row["s"] for row in rows}
    assert got == {t: storable_string(v) for t, v in zip(_times(frame), values, strict=True)}


def _usable_key(key: str) -> bool:
    return storable_name(key) not in RESERVED | {"lp_value", "lp_tag_value"}


@pytest.mark.integration
@pytest.mark.parametrize("place", ["field", "tag"])
@AGAINST_INFLUXD
@given(keys=TEXTS)
def test_field_and_tag_keys_read_back_as_stored(influxd, influx_db, place, keys):
    keys = [k for k in dict.fromkeys(keys) if _usable_key(k)]
    for key in keys:
        columns = {key: ["lp_tag_value"] if place == "tag" else [2.0], "lp_value": [1.0]}
        frame = _frame("lp_key", columns, 1, (key,) if place == "tag" else ())
        _written(influxd, influx_db, frame)
        (row,) = influxd.query(f'SELECT * FROM "lp_key" WHERE {_between(frame)}', db=influx_db)
        stored = {k for k, v in row.items() if v == columns[key][0]}
        assert stored == ({storable_name(key)} if storable_name(key) else set()), row


def _measurement_ok(name: str) -> bool:
    text = storable_name(name)
    return bool(text) and not text.startswith("#")


@pytest.mark.integration
@AGAINST_INFLUXD
@given(names=TEXTS)
def test_measurement_names_read_back_as_stored(influxd, influx_db, names):
    for name in dict.fromkeys(names):
        frame = _frame(name, {"lp_value": [1.0]}, 1)
        if not _measurement_ok(name):
            with pytest.raises(ValueError, match="cannot be a measurement name"):
                to_line_protocol(frame)
            continue
        _written(influxd, influx_db, frame)
        results = influxd.raw_query(f"SELECT * FROM /.*/ WHERE {_between(frame)}", db=influx_db)
        assert [s["name"] for s in results[0]["series"]] == [storable_name(name)]


# --- what storable_* change (no server needed) ---

#: A backslash that ends the text or stands before a backslash, , = space or ".
_UNPORTABLE = re.compile(r'\\(?=[\\,= "]|$)')


def _carriable_name(text: str) -> bool:
    return (not any(c in "\t\r\n\x00" or 0xD800 <= ord(c) <= 0xDFFF for c in text)
            and not _UNPORTABLE.search(text))


@settings(max_examples=500, derandomize=True, database=None)
@given(text=TEXT)
def test_storable_name_changes_only_what_cannot_be_carried(text):
    stored = storable_name(text)
    assert (stored == text) == _carriable_name(text)
    assert _carriable_name(stored) and storable_name(stored) == stored


@settings(max_examples=500, derandomize=True, database=None)
@given(text=TEXT)
def test_storable_string_changes_only_line_breaks_and_surrogates(text):
    carriable = not any(c in "\r\n" or 0xD800 <= ord(c) <= 0xDFFF for c in text)
    assert (storable_string(text) == text) == carriable


@pytest.mark.parametrize(("text", "stored"), [
    ("Home\\", "Home"),
    ("Home\\\\", "Home"),
    ("C:\\Tesla", "C:\\Tesla"),
    ("a\\\\b", "a\\b"),
    ("a\\,b", "a,b"),
    ("a\\ b\\=c", "a b=c"),
    ("say \\\"hi\\\"", 'say "hi"'),
    ("line\nbreak\ttab", "line break tab"),
    ("lone \ud800 surrogate", "lone \ufffd surrogate"),
    ("nul\x00", "nul\ufffd"),
    ("PGT2212345ABCD\\", "PGT2212345ABCD"),
])
def test_storable_name_examples(text, stored):
    assert storable_name(text) == stored


def test_a_trailing_backslash_no_longer_breaks_the_line():
    frame = _frame("live_status", {"site_id": ["1"], "site_name": ["Home\\"],
                                   "solar_power": [10.0]}, 1, ("site_id", "site_name"))
    (line,) = to_line_protocol(frame)
    assert line.startswith("live_status,site_id=1,site_name=Home solar_power=10.0 ")


def test_measurement_that_cannot_be_stored_is_refused():
    for name in ("", "#comment", "\\"):
        with pytest.raises(ValueError, match="cannot be a measurement name"):
            escape_measurement(name)
