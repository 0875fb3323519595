"""Progress display of a backfill: a one-line bar with ETA on a TTY, periodic log lines otherwise.

Only presentation: it is told how many windows are planned and finished, and must not decide
anything about the run. The clock is injectable so tests never depend on timing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from collector.log import get_logger

log = get_logger(__name__)

BAR_WIDTH = 30
LOG_EVERY_SECONDS = 10.0


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def eta_seconds(done: int, total: int, elapsed: float) -> float | None:
    """Remaining time at the average pace so far (None before the first window)."""
    if done <= 0 or total <= done:
        return None if done <= 0 else 0.0
    return elapsed / done * (total - done)


def render_bar(done: int, failed: int, total: int, elapsed: float) -> str:
    fraction = (done + failed) / total if total else 1.0
    filled = int(BAR_WIDTH * fraction)
    eta = eta_seconds(done + failed, total, elapsed)
    eta_text = format_duration(eta) if eta is not None else "--:--"
    failed_text = f", {failed} failed" if failed else ""
    return (f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done + failed}/{total} windows "
            f"{fraction:4.0%}{failed_text}  elapsed {format_duration(elapsed)}  ETA {eta_text}")


class Progress:
    """Receives ``update(done, failed)`` calls from the run's writer thread."""

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        every: float = LOG_EVERY_SECONDS,
        on_update: Callable[[int, int], Any] | None = None,
        log_finish: bool = True,
    ) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = getattr(self.stream, "isatty", bool)() if tty is None else tty
        self._clock = clock
        self._every = every
        self._started = clock()
        self._last_log = self._started
        self._on_update = on_update
        self._log_finish = log_finish
        self.done = 0
        self.failed = 0

    def update(self, done: int, failed: int) -> None:
        self.done, self.failed = done, failed
        if self._on_update:
            self._on_update(done, failed)
        now = self._clock()
        if self.tty:
            self.stream.write("\r" + render_bar(done, failed, self.total, now - self._started))
            self.stream.flush()
        elif now - self._last_log >= self._every:
            self._last_log = now
            self._log(now)

    def _log(self, now: float) -> None:
        elapsed = now - self._started
        eta = eta_seconds(self.done + self.failed, self.total, elapsed)
        log.info("backfill progress", windows_done=self.done, windows_failed=self.failed,
                 windows_total=self.total, elapsed_s=round(elapsed, 1),
                 eta_s=None if eta is None else round(eta, 1))

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
        elif self._log_finish:
            self._log(self._clock())
