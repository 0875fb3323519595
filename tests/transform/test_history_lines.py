"""An imported day's direct path (rows -> lines, no pandas) writes exactly what the frame path
writes: one normalization (``energy_history_rows``), byte-identical line protocol, the same
skips; on the recorded replies and on generated ones (DST days, omitted zeros, unknown
fields, malformed and implausible records, repeated instants)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from collector.transform import (
    energy_history_frame,
    energy_history_lines,
    energy_history_rows,
    to_line_protocol,
)
from collector.transform.fields import ENERGY_HISTORY, TimeBounds
from collector.transform.lineprotocol import _joined_lines
from tests.support import load_payload

FIXTURES = ("energy_history_sparse", "energy_history_fall_back", "energy_history_missing",
            "energy_history_empty", "real/energy_history_day_fleet",
            "real/energy_history_day_teslemetry", "real/energy_history_days_offset_only",
            "real/energy_history_year_offset", "real/energy_history_null",
            "real/energy_history_no_series")
BOUNDS = TimeBounds(earliest=int(datetime(2015, 1, 1, tzinfo=UTC).timestamp()),
                    latest=int(datetime(2030, 1, 1, tzinfo=UTC).timestamp()))


def _both(reply: object, site: int | str = 42,
          bounds: TimeBounds | None = None) -> tuple[list[str], list[str]]:
    rows = energy_history_rows(reply, site, bounds)
    frame = energy_history_frame(reply, site, bounds)
    assert (rows.skipped, rows.skip_reason) == (frame.skipped, frame.skip_reason)
    assert len(rows) == len(frame)
    return energy_history_lines(rows), to_line_protocol(frame)


def test_recorded_replies_give_the_same_lines_on_both_paths() -> None:
    written = 0
    for fixture in FIXTURES:
        direct, framed = _both(load_payload(fixture))
        assert direct == framed, fixture
        written += len(direct)
    assert written > 0


def test_fall_back_day_keeps_both_repeated_hours_on_the_direct_path() -> None:
    direct, framed = _both(load_payload("energy_history_fall_back"))
    stamps = [int(line.rsplit(" ", 1)[1]) for line in direct]
    assert direct == framed and stamps == sorted(set(stamps))
    assert len(stamps) == len(load_payload("energy_history_fall_back")["response"]["time_series"])


def test_an_implausible_bucket_is_skipped_alike_with_one_warning_naming_the_field() -> None:
    reply = load_payload("energy_history_sparse")
    reply["response"]["time_series"][1]["solar_energy_exported"] = 1e12
    with capture_logs() as logs:
        rows = energy_history_rows(reply, 42, BOUNDS)
    (warning,) = [e for e in logs if e["event"] == "malformed_records_skipped"]
    assert rows.skipped == 1 and "solar_energy_exported" in warning["first_reason"]
    direct, framed = _both(reply, bounds=BOUNDS)
    assert direct == framed and len(direct) == len(rows)


_KNOWN = ENERGY_HISTORY.field_names
_numbers = st.one_of(st.integers(0, 50_000), st.floats(0, 60_000, allow_nan=False),
                     st.sampled_from([0.0, -0.0, 16383.0, 16384.0, 1e-7, 38509.6384, 0.1]))
_odd_values = st.one_of(st.none(), st.booleans(), st.text(max_size=4),
                        st.sampled_from([-5.0, math.inf, 1e12, "12"]))
_values = st.one_of(_numbers, _numbers, _numbers, _odd_values)
_unknown = st.sampled_from(["new_field", "grid_services_energy_x", "a b,c=d", "tail\\"])


@st.composite
def _replies(draw: st.DrawFn) -> dict:
    offset = draw(st.sampled_from([-7, -8, 1, 0, 5.5]))
    zone = timezone(timedelta(hours=offset))
    start = datetime(2024, 11, 3, tzinfo=zone) + timedelta(minutes=5 * draw(st.integers(0, 30)))
    step = timedelta(minutes=draw(st.sampled_from([5, 15, 60, 1440])))
    series: list[object] = []
    for i in range(draw(st.integers(0, 40))):
        kind = draw(st.integers(0, 30))
        if kind == 0:
            series.append(draw(st.sampled_from([None, 3, "row", []])))
            continue
        stamp = (start + step * draw(st.sampled_from([i, i, i, max(i - 1, 0)]))).isoformat()
        if kind == 1:
            stamp = draw(st.sampled_from(["2024-11-03T01:00:00Z", "bad", None, 17,
                                          "2024-11-03T01:00:00"]))
        record: dict[str, object] = {"timestamp": stamp}
        for name in draw(st.lists(st.sampled_from(_KNOWN), unique=True)):
            record[name] = draw(_values) if kind == 2 else draw(_numbers)
        if draw(st.integers(0, 5)) == 0:
            record[draw(_unknown)] = draw(st.one_of(_numbers, _odd_values))
        series.append(record)
    return {"response": {"time_series": series}}


@settings(max_examples=300, deadline=None)
@given(reply=_replies(), site=st.sampled_from([42, "7", "a b"]), bounded=st.booleans())
def test_any_reply_gives_the_same_lines_and_the_same_skips(reply, site, bounded) -> None:
    direct, framed = _both(reply, site, BOUNDS if bounded else None)
    assert direct == framed


def test_rows_are_joined_one_by_one_when_a_piece_would_hold_a_newline() -> None:
    texts = np.array([["1.0", "2.0"], ["3.0", "4.0"]], dtype=object)
    lines = _joined_lines("m,t=a\nb", ["x", "y"], texts, [10, 20])
    assert lines == ["m,t=a\nb x=1.0,y=2.0 10", "m,t=a\nb x=3.0,y=4.0 20"]
    assert _joined_lines("m", ["x", "y"], texts, [10, 20]) == ["m x=1.0,y=2.0 10",
                                                               "m x=3.0,y=4.0 20"]
