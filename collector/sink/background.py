"""BackgroundWriter: the daemon's writes, off its polling threads.

``write()`` only puts the lines in a bounded in-memory queue and returns; one writer thread
drains the queue into ``InfluxSink.deliver`` (which replays the spool first and gives up after
the write deadline). What InfluxDB did not take goes to the spool, in order. So a hung or
refusing InfluxDB never holds a poll back, and nothing the API served is dropped:

- the queue overflowing (``collector.write_queue_points``) moves everything queued, the batch in
  flight included, plus the new lines to the spool at once (disk only), oldest first. The batch
  in flight may then reach InfluxDB *and* be replayed later: a harmless rewrite of identical
  points, and the order of revisions is kept (a replay of an old batch always comes before
  anything newer);
- while InfluxDB is down the writer tries again at most every ``influx.retry_seconds`` and
  spools whatever arrives in between; while it refuses writes, every
  ``influx.refused_retry_seconds``;
- when even the spool's disk is full, the lines stay in memory (up to the queue bound) and the
  writer waits before trying again; only beyond that bound are points lost, with one error;
- ``close()`` spools what is still queued without another attempt, so a stop is prompt.

It has the sink's interface (``write``, counters, ``spooling``, ``health``), so the daemon's
jobs use it in place of the sink. No HTTP of its own, no Fleet API.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from collector.errors import SinkError, SpoolFull
from collector.log import get_logger
from collector.sink.influx import InfluxSink
from collector.sink.lines import WriteResult, as_lines

log = get_logger(__name__)

CLOSE_WAIT_SECONDS = 5.0


class BackgroundWriter:
    """A bounded queue in front of an ``InfluxSink`` and the thread that drains it."""

    def __init__(self, sink: InfluxSink, *, max_points: int, retry_seconds: float,
                 refused_retry_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sink = sink
        self.max_points = max(1, max_points)
        self.retry_seconds = retry_seconds
        self.refused_retry_seconds = refused_retry_seconds
        self.lost_points = 0
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: deque[tuple[float, list[str]]] = deque()  # (queued at, lines)
        self._queued = 0
        self._peak = 0  # most points queued at once since the last take_peak_points()
        self._inflight: list[str] | None = None
        self._inflight_since = 0.0
        self._inflight_spilled = False
        self._last_attempt = float("-inf")
        self._hold_until = float("-inf")
        self._closing = False
        self._overflowing = False
        self._thread = threading.Thread(target=self._run, name="influx-writer", daemon=True)

    @classmethod
    def for_settings(cls, sink: InfluxSink, settings: Any) -> BackgroundWriter:
        return cls(sink, max_points=settings.collector.write_queue_points,
                   retry_seconds=settings.influx.retry_seconds,
                   refused_retry_seconds=settings.influx.refused_retry_seconds)

    def start(self) -> BackgroundWriter:
        self._thread.start()
        return self

    # --- the sink's interface ---

    @property
    def points_written(self) -> int:
        return self.sink.points_written

    @property
    def spool_points(self) -> int:
        return self.sink.spool_points

    @property
    def queued_points(self) -> int:
        with self._cond:
            return self._queued + len(self._inflight or ())

    def take_peak_points(self) -> int:
        """The most points that waited in the queue at once since the previous call. The
        process keeps the memory of that backlog (line strings) mapped after it drains:
        Python's and glibc's allocators rarely give such freed memory back to the OS, they
        reuse it for the next backlog, so RSS follows the largest backlog so far."""
        with self._cond:
            peak, self._peak = self._peak, self._queued
        return peak

    @property
    def failing(self) -> bool:
        return self.sink.failing

    @property
    def spooling(self) -> bool:
        """The sink spools, or points have waited in memory longer than a write may take."""
        return self.sink.spooling or self._oldest_age() > self.sink.write_deadline

    def health(self) -> dict[str, Any]:
        return {**self.sink.health(), "write_queue_points": self.queued_points,
                "lost_points": self.lost_points}

    def write(self, data: Any) -> WriteResult:
        """Queue the lines for the writer thread; never waits for InfluxDB."""
        lines = as_lines(data)
        if not lines:
            return WriteResult()
        with self._cond:
            if self._closing or self._queued + len(lines) > self.max_points:
                return self._spill_locked(lines)
            self._queue.append((self._clock(), lines))
            self._queued += len(lines)
            self._peak = max(self._peak, self._queued)
            self._cond.notify_all()
        return WriteResult(queued=len(lines))

    def flush(self, timeout: float) -> bool:
        """Wait until the writer has handled everything queued; False on timeout."""
        end = self._clock() + timeout
        with self._cond:
            while self._queue or self._inflight is not None:
                left = end - self._clock()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def close(self, timeout: float = CLOSE_WAIT_SECONDS) -> None:
        """Stop: what is queued goes to the spool; a write in flight gets ``timeout`` s."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._cond:
            if self._queue or (self._inflight and not self._inflight_spilled):
                self._spill_locked([])

    # --- overflow (caller's thread, disk only) ---

    def _spill_locked(self, lines: list[str]) -> WriteResult:
        waiting = [line for _, batch in self._queue for line in batch]
        inflight = self._inflight if self._inflight and not self._inflight_spilled else []
        everything = [*inflight, *waiting, *lines]
        try:
            self.sink.keep(everything)
        except SinkError as exc:
            self._lose(len(lines), exc)
            return WriteResult()
        self._inflight_spilled = bool(self._inflight)
        self._queue.clear()
        self._queued = 0
        if not self._overflowing and not self._closing:
            log.warning("write_queue_full_spooling", queued_points=len(everything),
                        max_points=self.max_points, influxdb=self.sink.state)
        self._overflowing = not self._closing
        return WriteResult(spooled=len(lines))

    def _lose(self, count: int, exc: SinkError) -> None:
        self.lost_points += count
        log.error("points_lost", points=count, lost_points=self.lost_points, error=str(exc),
                  why="InfluxDB did not take them, the write queue is full and the spool "
                  "cannot grow")

    # --- the writer thread ---

    def _run(self) -> None:
        while True:
            lines = self._take()
            if lines is None:
                return
            try:
                self._handle(lines)
            except Exception:  # a bug must not stop the writer: keep what we hold
                log.exception("writer_error")
                self._settle(lines)

    def _take(self) -> list[str] | None:
        """The next lines to write (everything queued), ``[]`` when a retry of the spool is
        due, ``None`` when closing with nothing left."""
        with self._cond:
            while True:
                if self._closing and not self._queue:
                    return None
                hold = self._hold_until - self._clock()
                if self._queue and (hold <= 0 or self._closing):
                    return self._take_queue_locked()
                retry = self._retry_wait()
                if not self._queue and retry is not None and retry <= 0:
                    return []
                waits = [w for w in (hold if self._queue else None, retry) if w is not None]
                self._cond.wait(max(0.01, min(waits)) if waits else None)

    def _take_queue_locked(self) -> list[str]:
        lines = [line for _, batch in self._queue for line in batch]
        self._inflight_since = self._queue[0][0]
        self._queue.clear()
        self._queued = 0
        self._inflight, self._inflight_spilled = lines, False
        self._overflowing = False
        return lines

    def _retry_wait(self) -> float | None:
        """Seconds until the spool should be tried again (also when InfluxDB is up but an
        overflow put points there); None when the spool is empty."""
        if not self.sink.spool_points:
            return None
        return self._last_attempt + self._retry_interval() - self._clock()

    def _retry_interval(self) -> float:
        return self.refused_retry_seconds if self.sink.state == "refused" else self.retry_seconds

    def _handle(self, lines: list[str]) -> None:
        if not lines:
            self._attempt(self.sink.replay)
            return
        due = self._last_attempt + self._retry_interval() <= self._clock()
        if self._closing or (self.sink.failing and not due):
            self._settle(lines)  # stopping, or InfluxDB failed a moment ago: keep for later
            return
        rest: list[str] = []
        self._attempt(lambda: rest.extend(
            self.sink.deliver(lines, cancelled=self._was_spilled)[1]))
        self._settle(rest)

    def _was_spilled(self) -> bool:
        with self._cond:
            return self._inflight_spilled

    def _attempt(self, send: Callable[[], Any]) -> None:
        try:
            send()
        finally:
            self._last_attempt = self._clock()

    def _settle(self, rest: list[str]) -> None:
        """Spool what the write in flight left over (unless an overflow already did)."""
        with self._cond:
            try:
                if rest and not self._inflight_spilled:
                    self.sink.keep(rest)
            except SpoolFull as exc:
                self._hold_in_memory(rest, exc)
            except SinkError as exc:
                self._lose(len(rest), exc)
            finally:
                self._inflight = None
                self._cond.notify_all()

    def _hold_in_memory(self, rest: list[str], exc: SpoolFull) -> None:
        """The spool's disk is full: keep ``rest`` at the head of the queue while it fits."""
        self._hold_until = self._clock() + self.retry_seconds
        if self._queued + len(rest) > self.max_points:
            self._lose(len(rest), exc)
            return
        self._queue.appendleft((self._inflight_since, rest))
        self._queued += len(rest)

    def _oldest_age(self) -> float:
        with self._cond:
            if self._inflight is not None:
                return self._clock() - self._inflight_since
            return self._clock() - self._queue[0][0] if self._queue else 0.0
