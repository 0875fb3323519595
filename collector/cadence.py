"""Live-poll cadence accounting: polls expected at the live interval, completed, missed.

Every site is expected to complete one live poll per interval from its first due time on. An
interval in which a site completed no poll is one *missed* poll, whatever the reason (the job
was skipped or ran late, the API failed, the site's reply was unusable): a gap of ``g``
seconds between two completed polls holds ``floor(g / interval - 0.5)`` misses (a poll may be
up to half an interval late), and so does the open gap since the last one. ``expected`` is
``completed + missed``. The daemon reports the three in ``/metrics`` and the heartbeat file.

Pure bookkeeping with an injectable monotonic clock: no scheduling, no I/O.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class CadenceCounts:
    expected: int
    completed: int
    missed: int

    def as_dict(self) -> dict[str, int]:
        return {"expected": self.expected, "completed": self.completed, "missed": self.missed}


class Cadence:
    """Expected vs completed live polls per site (thread-safe)."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = float(interval)
        self._clock = clock
        self._lock = threading.Lock()
        #: Per site: the last completed poll, or one interval before its first due time.
        self._last: dict[int, float] = {}
        self._completed = 0
        self._missed = 0  # in closed gaps (between two completed polls)

    def expect(self, site_ids: Iterable[int], first_due_in: float = 0.0) -> None:
        """Start expecting polls of ``site_ids``, the first one ``first_due_in`` s from now
        (sites already expected keep their history)."""
        reference = self._clock() + first_due_in - self.interval
        with self._lock:
            for site_id in site_ids:
                self._last.setdefault(site_id, reference)

    def forget(self, site_ids: Iterable[int]) -> None:
        """Stop expecting polls of removed sites (their closed misses stay counted)."""
        with self._lock:
            for site_id in site_ids:
                self._last.pop(site_id, None)

    def completed(self, site_id: int) -> None:
        """A live poll of ``site_id`` was answered and handled."""
        now = self._clock()
        with self._lock:
            last = self._last.get(site_id)
            if last is None:
                return  # not (or no longer) scheduled: a one-off poll
            self._missed += self._misses(now - last)
            self._last[site_id] = now
            self._completed += 1

    def counts(self) -> CadenceCounts:
        now = self._clock()
        with self._lock:
            overdue = sum(self._misses(now - last) for last in self._last.values())
            missed = self._missed + overdue
            return CadenceCounts(self._completed + missed, self._completed, missed)

    def _misses(self, gap: float) -> int:
        """Polls missed in ``gap`` seconds since the last completed one."""
        return max(0, math.floor(gap / self.interval - 0.5))
