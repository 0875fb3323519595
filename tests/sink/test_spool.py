"""The on-disk spool: order, cursor, crash tolerance and the size cap (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from collector.errors import SinkError
from collector.sink import Spool


def _lines(start: int, count: int) -> list[str]:
    return [f"m v={i}.0 {1700000000 + i}" for i in range(start, start + count)]


def test_lines_come_back_in_order_across_segments(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10 * 2**20)
    spool.segment_bytes = 200  # force several segments
    for start in range(0, 50, 10):
        spool.append(_lines(start, 10))
    assert spool.points == 50 and len(list(tmp_path.glob("*.lp"))) > 1
    seen: list[str] = []
    while spool.points:
        batch = spool.read(7)
        seen.extend(batch)
        spool.commit(len(batch))
    assert seen == _lines(0, 50)
    assert list(tmp_path.glob("*.lp")) == []


def test_partial_commit_and_reopen_resume_at_the_cursor(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=2**20)
    spool.append(_lines(0, 10))
    assert spool.read(4) == _lines(0, 4)
    spool.commit(3)  # the 4th line was not delivered
    spool.close()
    reopened = Spool(tmp_path, max_bytes=2**20)
    assert reopened.points == 7
    assert reopened.read(100) == _lines(3, 7)


def test_truncated_last_line_from_a_kill_is_dropped(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=2**20)
    spool.append(_lines(0, 3))
    spool.close()
    (segment,) = tmp_path.glob("*.lp")
    with segment.open("ab") as handle:
        handle.write(b"m v=99.0 17000")  # killed mid-line
    with capture_logs() as logs:
        reopened = Spool(tmp_path, max_bytes=2**20)
    assert reopened.points == 3 and reopened.read(10) == _lines(0, 3)
    assert logs[0]["event"] == "spool_truncated_line_dropped"
    reopened.append(_lines(3, 1))
    assert reopened.read(10) == _lines(0, 4)


def test_cap_drops_oldest_segments_and_warns_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=8192)
    with capture_logs() as logs:
        for start in range(0, 2000, 100):
            spool.append(_lines(start, 100))
    warnings = [e for e in logs if e["event"] == "spool_full_dropping_oldest"]
    assert len(warnings) == 1 and "spool_max_mb" in warnings[0]["fix"]
    assert spool.dropped_points > 0
    assert spool.points + spool.dropped_points == 2000
    assert spool.size_bytes <= 8192 + spool.segment_bytes
    remaining = []
    while spool.points:
        batch = spool.read(1000)
        remaining.extend(batch)
        spool.commit(len(batch))
    assert remaining == _lines(2000 - len(remaining), len(remaining))  # the newest survive


def test_one_process_per_spool_directory(tmp_path: Path) -> None:
    first = Spool(tmp_path, max_bytes=2**20)
    with pytest.raises(SinkError, match="in use by another"):
        Spool(tmp_path, max_bytes=2**20)
    first.close()
    Spool(tmp_path, max_bytes=2**20).close()
