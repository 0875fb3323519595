"""Durable on-disk spool of line protocol for when InfluxDB cannot take points.

Layout (``<state_dir>/spool/``): numbered segment files ``000000000001.lp`` ... holding one
line-protocol line per text line, appended and fsync'd in order; ``cursor.json`` records how far
the oldest segment has been replayed (written atomically: temp file, fsync, rename). Replaying
reads from the oldest segment at the cursor, and only after InfluxDB accepted (or dead-lettered)
those lines does ``commit()`` move the cursor; a crash in between re-sends them, which is
harmless because a rewritten point overwrites itself. A line cut short by a kill during append
(no trailing newline) is dropped when the spool is opened.

Size cap (``collector.spool_max_mb``): when the spool grows past it, the OLDEST segments are
dropped (the newest data is kept: history buckets can be fetched again by gap fill, live
samples cannot), with one warning when dropping starts and one when the spool is below the cap
again. One process owns a spool directory (an exclusive lock). A second process on the same
state dir (a ``backfill`` or ``set`` while the daemon runs) gets a private spool under
``<state_dir>/spool.d/``; whichever sink next replays adopts private spools whose owner has
exited (``orphan_spools``), so nothing is stranded. No network, no InfluxDB here.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from collector.errors import SinkError
from collector.log import get_logger

log = get_logger(__name__)

SEGMENT_SUFFIX = ".lp"
SHARED_SPOOL = "spool"
PRIVATE_SPOOLS = "spool.d"
MAX_SEGMENT_BYTES = 4 * 1024 * 1024
MIN_SEGMENT_BYTES = 4096


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class _Cursor:
    segment: str = ""
    offset: int = 0


class SpoolBusy(SinkError):
    """Another live process holds this spool directory's lock."""


class Spool:
    """Append-only segments of line protocol with a replay cursor. Not thread-safe: the sink
    serialises access."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max(int(max_bytes), MIN_SEGMENT_BYTES)
        self.segment_bytes = max(MIN_SEGMENT_BYTES, min(MAX_SEGMENT_BYTES, self.max_bytes // 8))
        self.dropped_points = 0
        self._capped = False
        self._pending: list[int] = []  # byte lengths of lines handed out by read()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock = self._acquire_lock()
        except OSError as exc:
            raise SinkError(f"cannot use spool directory {directory}: {exc.strerror}") from None
        self._cursor = self._load_cursor()
        self._repair_tail()
        self.points = self._count_points()
        self.size_bytes = sum(p.stat().st_size for p in self._segments()) - self._cursor.offset

    # --- setup ---

    def _acquire_lock(self) -> int:
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolBusy(
                f"spool {self.directory} is in use by another collector process; give each "
                "process its own COLLECTOR_STATE_DIR"
            ) from None
        return fd

    def close(self) -> None:
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = -1

    def discard(self) -> None:
        """Close and delete this (private, drained) spool directory."""
        self.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _segments(self) -> list[Path]:
        return sorted(self.directory.glob(f"*{SEGMENT_SUFFIX}"))

    def _load_cursor(self) -> _Cursor:
        path = self.directory / "cursor.json"
        try:
            data = json.loads(path.read_text())
            cursor = _Cursor(str(data["segment"]), int(data["offset"]))
        except (OSError, ValueError, KeyError, TypeError):
            return _Cursor()
        segments = self._segments()
        if not segments or cursor.segment != segments[0].name:
            return _Cursor()
        return cursor

    def _repair_tail(self) -> None:
        """Cut a partial last line (the process was killed mid-append)."""
        segments = self._segments()
        if not segments:
            return
        last = segments[-1]
        data = last.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with last.open("r+b") as handle:
                handle.truncate(keep)
                os.fsync(handle.fileno())
            log.warning("spool_truncated_line_dropped", segment=last.name,
                        bytes=len(data) - keep)

    def _count_points(self) -> int:
        total = 0
        for segment in self._segments():
            data = segment.read_bytes()
            skip = self._cursor.offset if segment.name == self._cursor.segment else 0
            total += data.count(b"\n", skip)
        return total

    # --- append ---

    def append(self, lines: list[str]) -> None:
        """Append lines (in order) and fsync; then enforce the size cap."""
        if not lines:
            return
        payload = ("\n".join(lines) + "\n").encode()
        target = self._active_segment(len(payload))
        try:
            with target.open("ab") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise SinkError(f"cannot append to spool {target}: {exc.strerror}") from None
        self.points += len(lines)
        self.size_bytes += len(payload)
        self._enforce_cap()

    def _active_segment(self, incoming: int) -> Path:
        segments = self._segments()
        if segments and segments[-1].stat().st_size + incoming <= self.segment_bytes:
            return segments[-1]
        number = int(segments[-1].stem) + 1 if segments else 1
        path = self.directory / f"{number:012d}{SEGMENT_SUFFIX}"
        path.touch()
        _fsync_dir(self.directory)
        return path

    def _enforce_cap(self) -> None:
        segments = self._segments()
        while self.size_bytes > self.max_bytes and len(segments) > 1:
            self._drop_segment(segments.pop(0))

    def _drop_segment(self, segment: Path) -> None:
        data = segment.read_bytes()
        skip = self._cursor.offset if segment.name == self._cursor.segment else 0
        lost = data.count(b"\n", skip)
        segment.unlink()
        self._save_cursor(_Cursor())
        self._pending = []
        self.points -= lost
        self.size_bytes -= len(data) - skip
        self.dropped_points += lost
        if not self._capped:
            self._capped = True
            log.warning("spool_full_dropping_oldest", max_mb=round(self.max_bytes / 2**20, 3),
                        dropped_points=lost, directory=str(self.directory),
                        fix="bring InfluxDB back or raise collector.spool_max_mb")

    # --- replay ---

    def read(self, max_lines: int) -> list[str]:
        """Up to ``max_lines`` of the oldest unreplayed lines (one segment at a time)."""
        segments = self._segments()
        if not segments:
            return []
        first = segments[0]
        offset = self._cursor.offset if self._cursor.segment == first.name else 0
        with first.open("rb") as handle:
            handle.seek(offset)
            raw = [handle.readline() for _ in range(max_lines)]
        raw = [line for line in raw if line.endswith(b"\n")]
        self._pending = [len(line) for line in raw]
        if not raw and first != segments[-1]:
            self._advance(first, len(segments))
            return self.read(max_lines)
        return [line[:-1].decode() for line in raw]

    def commit(self, count: int) -> None:
        """Mark the first ``count`` lines of the last ``read()`` as delivered."""
        if count <= 0 or not self._pending:
            return
        segments = self._segments()
        first = segments[0]
        offset = self._cursor.offset if self._cursor.segment == first.name else 0
        consumed = sum(self._pending[:count])
        self._pending = self._pending[count:]
        self.points -= min(count, self.points)
        self.size_bytes -= consumed
        offset += consumed
        if offset >= first.stat().st_size:
            self._advance(first, len(segments))
        else:
            self._save_cursor(_Cursor(first.name, offset))

    def _advance(self, finished: Path, segment_count: int) -> None:
        finished.unlink()
        self._save_cursor(_Cursor())
        self._pending = []
        if segment_count == 1:
            self.points, self.size_bytes = 0, 0
        if self.points == 0 and self._capped:
            self._capped = False
            log.info("spool_below_cap_again", dropped_points=self.dropped_points)

    def _save_cursor(self, cursor: _Cursor) -> None:
        self._cursor = cursor
        path = self.directory / "cursor.json"
        temp = path.with_suffix(".tmp")
        with temp.open("w") as handle:
            json.dump({"segment": cursor.segment, "offset": cursor.offset}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)


def open_spool(state_dir: Path, max_bytes: int) -> Spool:
    """The shared spool of ``state_dir``, or a private one when another process holds it."""
    try:
        return Spool(state_dir / SHARED_SPOOL, max_bytes)
    except SpoolBusy:
        private = state_dir / PRIVATE_SPOOLS / f"{os.getpid()}-{time.time_ns()}"
        log.info("spool_shared_busy_using_private", directory=str(private))
        return Spool(private, max_bytes)


def orphan_spools(state_dir: Path, own: Path, max_bytes: int) -> Iterator[Spool]:
    """Private spools left by processes that have exited (their lock is free), oldest first."""
    root = state_dir / PRIVATE_SPOOLS
    if not root.is_dir():
        return
    for directory in sorted(root.iterdir()):
        if directory == own or not directory.is_dir():
            continue
        try:
            yield Spool(directory, max_bytes)
        except SpoolBusy:
            continue  # its process is still running; it replays its own spool
