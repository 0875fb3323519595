"""The live poll's direct path (rows -> lines, no pandas) writes exactly what the frame path
writes: same normalization (``live_status_rows``), byte-identical line protocol."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.transform import (
    live_status_frames,
    live_status_lines,
    live_status_rows,
    to_line_protocol,
)
from collector.transform.fields import LIVE_STATUS, WALL_CONNECTOR, Kind
from tests.support import load_payload

FIXTURES = ("live_status_pypowerwall", "live_status_wall_connectors", "live_status_solar_only")


def _frame_lines(payload: object, site_id: int, name: str | None) -> list[str]:
    return [line for frame in live_status_frames(payload, site_id, name)
            for line in to_line_protocol(frame)]


def test_recorded_payloads_give_the_same_lines_on_both_paths() -> None:
    for fixture in FIXTURES:
        payload = load_payload(fixture)
        lines = live_status_lines(live_status_rows(payload, 7, "Home"))
        assert lines and lines == _frame_lines(payload, 7, "Home"), fixture


def _value(kind: Kind) -> st.SearchStrategy:
    numbers = st.one_of(st.integers(-50_000, 50_000),
                        st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
                        st.sampled_from([0.0, -0.0, 1e-7, 123456.789, 16384.0, 16383.0]))
    return {Kind.FLOAT: numbers, Kind.INT: st.integers(-1000, 1000), Kind.BOOL: st.booleans(),
            Kind.STR: st.text(max_size=12)}[kind]


def _fields(schema) -> st.SearchStrategy:
    return st.fixed_dictionaries({}, optional={
        f.name: st.one_of(st.none(), _value(f.kind)) for f in schema.fields})


_names = st.one_of(st.none(), st.text(max_size=10),
                   st.sampled_from(["Home", "a b,c=d", "end\\", "tab\there", "\"q\""]))


@settings(max_examples=300, deadline=None)
@given(body=_fields(LIVE_STATUS), walls=st.lists(
    st.tuples(st.one_of(st.text(max_size=6), st.none()), _fields(WALL_CONNECTOR)), max_size=3),
    name=_names, stamp=st.sampled_from(["2024-05-12T07:18:19-07:00", "2024-05-12T07:18:19Z",
                                        "not a time"]))
def test_any_payload_gives_the_same_lines_and_the_same_skips(body, walls, name, stamp) -> None:
    payload = {"response": {**body, "timestamp": stamp,
                            "wall_connectors": [{**w, "din": din} for din, w in walls]}}
    rows = live_status_rows(payload, 42, name)
    frames = live_status_frames(payload, 42, name)
    assert live_status_lines(rows) == _frame_lines(payload, 42, name)
    assert (rows.live_skipped, rows.live_reason) == (frames.live_status.skipped,
                                                     frames.live_status.skip_reason)
    assert rows.wall_skipped == frames.wall_connector.skipped


def test_non_finite_values_are_never_written_on_either_path() -> None:
    payload = load_payload("live_status_pypowerwall")
    payload["response"]["solar_power"] = math.inf  # implausible: the whole sample is skipped
    rows = live_status_rows(payload, 1, "Home")
    assert rows.live == [] and rows.live_skipped == 1
    assert live_status_lines(rows) == _frame_lines(payload, 1, "Home") == []
