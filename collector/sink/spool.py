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

A full disk never corrupts the spool: an append is one ``write`` of whole lines followed by an
fsync, and when either fails (ENOSPC, EDQUOT, EFBIG) the segment is truncated back to its size
before the append, so the file holds whole records only; the caller gets ``SpoolFull`` and keeps
the lines. Point counts are kept per segment and re-derived from the file whenever an append
failed, replay reads until the files are empty (never trusting a counter), and the next append
after space returns simply works: no restart. The disk-full state is logged once (with the
spool's size) and once when appends work again. A cursor that cannot be saved stays in memory
(replaying its lines again after a crash is harmless: a rewritten point overwrites itself).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from collector.errors import SinkError, SpoolFull
from collector.log import get_logger

log = get_logger(__name__)

SEGMENT_SUFFIX = ".lp"
SHARED_SPOOL = "spool"
PRIVATE_SPOOLS = "spool.d"
MAX_SEGMENT_BYTES = 4 * 1024 * 1024
MIN_SEGMENT_BYTES = 4096
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


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


@dataclass
class _Segment:
    """What one segment file holds: complete lines and bytes (derived from the file)."""

    lines: int = 0
    size: int = 0


def _count_file(path: Path) -> _Segment:
    data = path.read_bytes()
    return _Segment(data.count(b"\n"), len(data))


class Spool:
    """Append-only segments of line protocol with a replay cursor. Not thread-safe: the sink
    serialises access."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max(int(max_bytes), MIN_SEGMENT_BYTES)
        self.segment_bytes = max(MIN_SEGMENT_BYTES, min(MAX_SEGMENT_BYTES, self.max_bytes // 8))
        self.dropped_points = 0
        self.disk_full = False
        self._capped = False
        self._cursor_unsaved = False
        self._pending: list[int] = []  # byte lengths of lines handed out by read()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock = self._acquire_lock()
        except OSError as exc:
            raise SinkError(f"cannot use spool directory {directory}: {exc.strerror}") from None
        self._cursor = self._load_cursor()
        self._repair_tail()
        self._segs: dict[str, _Segment] = {}
        self._consumed = 0  # lines of the first segment before the cursor
        self._scan()

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

    def _scan(self) -> None:
        """Derive every count from the files on disk."""
        self._segs = {path.name: _count_file(path) for path in self._segments()}
        self._consumed = 0
        first = next(iter(self._segs), None)
        if first is not None and self._cursor.segment == first:
            data = (self.directory / first).read_bytes()[:self._cursor.offset]
            self._consumed = data.count(b"\n")

    # --- counts (all derived from the files) ---

    # Read from other threads (health, metrics) while the owner appends: list() takes the
    # dict's values in one step, so a concurrent insert cannot break the iteration.

    @property
    def points(self) -> int:
        return sum(seg.lines for seg in list(self._segs.values())) - self._consumed

    @property
    def size_bytes(self) -> int:
        offset = self._cursor.offset if self._cursor.segment in self._segs else 0
        return sum(seg.size for seg in list(self._segs.values())) - offset

    def has_lines(self) -> bool:
        """Whether the files hold unreplayed lines (read from disk, not from a counter)."""
        offset = self._cursor.offset
        for path in self._segments():
            size = path.stat().st_size
            if size > (offset if path.name == self._cursor.segment else 0):
                return True
        return False

    # --- append ---

    def append(self, lines: list[str]) -> None:
        """Append lines (in order) as whole records and fsync, then enforce the size cap.
        Raises ``SpoolFull`` (nothing appended) when the disk has no room for them."""
        if not lines:
            return
        payload = ("\n".join(lines) + "\n").encode()
        target: Path | None = None
        try:
            target = self._active_segment(len(payload))
            self._write_whole(target, payload)
        except OSError as exc:
            self._append_failed(len(lines), exc, target)
        assert target is not None
        seg = self._segs[target.name]
        seg.lines += len(lines)
        seg.size += len(payload)
        if self.disk_full:
            self.disk_full = False
            log.info("spool_disk_space_back", directory=str(self.directory),
                     spool_points=self.points)
        self._enforce_cap()

    def _write_whole(self, target: Path, payload: bytes) -> None:
        """One append of ``payload``; on any failure the file is cut back to its old size."""
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            before = os.fstat(fd).st_size
            try:
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            except OSError:
                self._truncate_back(fd, before)
                raise
        finally:
            os.close(fd)

    def _truncate_back(self, fd: int, size: int) -> None:
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        except OSError:  # the counts are re-derived and a partial line is cut on open
            log.exception("spool_truncate_failed", directory=str(self.directory))

    def _append_failed(self, count: int, exc: OSError, target: Path | None) -> None:
        self._repair_tail()
        if target is not None:  # re-derive that segment's counts from the file
            if target.exists():
                self._segs[target.name] = _count_file(target)
            else:
                self._segs.pop(target.name, None)
        if exc.errno not in _NO_SPACE:
            raise SinkError(f"cannot append to spool {self.directory}: {exc.strerror}") from None
        size_mb = round(self.size_bytes / 2**20, 3)
        if not self.disk_full:
            self.disk_full = True
            log.error("spool_disk_full", directory=str(self.directory), spool_mb=size_mb,
                      spool_points=self.points, error=exc.strerror,
                      fix="free disk space; appends resume by themselves")
        raise SpoolFull(f"cannot keep {count} points: no space left for the spool in "
                        f"{self.directory} (it holds {self.points} points, {size_mb} MB); "
                        "free disk space") from None

    def _active_segment(self, incoming: int) -> Path:
        names = list(self._segs)
        if names and self._segs[names[-1]].size + incoming <= self.segment_bytes:
            return self.directory / names[-1]
        number = int(names[-1].split(".")[0]) + 1 if names else 1
        path = self.directory / f"{number:012d}{SEGMENT_SUFFIX}"
        path.touch()
        self._segs[path.name] = _Segment()
        _fsync_dir(self.directory)
        return path

    def _enforce_cap(self) -> None:
        while self.size_bytes > self.max_bytes and len(self._segs) > 1:
            self._drop_segment(next(iter(self._segs)))

    def _drop_segment(self, name: str) -> None:
        lost = self._segs[name].lines - self._consumed
        (self.directory / name).unlink(missing_ok=True)
        del self._segs[name]
        self._restart_cursor()
        self.dropped_points += lost
        if not self._capped:
            self._capped = True
            log.warning("spool_full_dropping_oldest", max_mb=round(self.max_bytes / 2**20, 3),
                        dropped_points=lost, directory=str(self.directory),
                        fix="bring InfluxDB back or raise collector.spool_max_mb")

    # --- replay ---

    def read(self, max_lines: int) -> list[str]:
        """Up to ``max_lines`` of the oldest unreplayed lines (one segment at a time)."""
        self._pending = []
        names = list(self._segs)
        if not names:
            return []
        first = self.directory / names[0]
        offset = self._cursor.offset if self._cursor.segment == first.name else 0
        try:
            with first.open("rb") as handle:
                handle.seek(offset)
                raw = [handle.readline() for _ in range(max_lines)]
        except FileNotFoundError:  # removed behind our back: believe the disk
            self._scan()
            return self.read(max_lines) if self._segs else []
        raw = [line for line in raw if line.endswith(b"\n")]
        self._pending = [len(line) for line in raw]
        if not raw and len(names) > 1:
            self._advance(first)
            return self.read(max_lines)
        return [line[:-1].decode() for line in raw]

    def commit(self, count: int) -> None:
        """Mark the first ``count`` lines of the last ``read()`` as delivered."""
        if count <= 0 or not self._pending:
            return
        first = self.directory / next(iter(self._segs))
        offset = self._cursor.offset if self._cursor.segment == first.name else 0
        count = min(count, len(self._pending))
        offset += sum(self._pending[:count])
        self._pending = self._pending[count:]
        if offset >= self._segs[first.name].size:
            self._advance(first)
        else:
            self._consumed += count
            self._save_cursor(_Cursor(first.name, offset))

    def _advance(self, finished: Path) -> None:
        # (in this order, a concurrent reader of ``points`` never sees too few)
        self._consumed = 0
        finished.unlink(missing_ok=True)
        self._segs.pop(finished.name, None)
        self._restart_cursor()
        if self.points == 0 and self._capped:
            self._capped = False
            log.info("spool_below_cap_again", dropped_points=self.dropped_points)

    def _restart_cursor(self) -> None:
        self._save_cursor(_Cursor())
        self._consumed = 0
        self._pending = []

    def _save_cursor(self, cursor: _Cursor) -> None:
        self._cursor = cursor
        path = self.directory / "cursor.json"
        temp = path.with_suffix(".tmp")
        try:
            with temp.open("w") as handle:
                json.dump({"segment": cursor.segment, "offset": cursor.offset}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            if not self._cursor_unsaved:
                log.warning("spool_cursor_not_saved", directory=str(self.directory),
                            error=exc.strerror, effect="after a crash some spooled points "
                            "are sent again, which is harmless")
            self._cursor_unsaved = True
            return
        self._cursor_unsaved = False


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
