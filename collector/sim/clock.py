"""The simulator's injectable clock: real time by default, fixed or faster for tests.

Everything time-dependent in the simulator (live values, "today" in history, token expiry,
rate-limit windows) reads ``SimClock.now()``. This module only keeps time; it must not know
about sites, HTTP or the model.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime


def _epoch(when: float | datetime) -> float:
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise ValueError("clock times must be time-zone aware datetimes")
        return when.timestamp()
    return float(when)


class SimClock:
    """Epoch seconds that advance at ``speed`` times real time from ``start``.

    ``SimClock()`` is the real clock; ``SimClock(start, speed=0)`` is frozen at ``start``
    (move it with ``set``/``advance``); ``SimClock(start, speed=60)`` runs a minute per second.
    """

    def __init__(self, start: float | datetime | None = None, speed: float = 1.0) -> None:
        if speed < 0:
            raise ValueError("clock speed must be >= 0")
        self._lock = threading.Lock()
        self._speed = speed
        self._anchor_real = time.time()
        self._anchor_sim = self._anchor_real if start is None else _epoch(start)

    @classmethod
    def fixed(cls, when: float | datetime) -> SimClock:
        """A clock frozen at ``when`` until ``set`` or ``advance`` moves it."""
        return cls(when, speed=0.0)

    def now(self) -> float:
        with self._lock:
            return self._anchor_sim + (time.time() - self._anchor_real) * self._speed

    def set(self, when: float | datetime) -> None:
        """Jump to ``when`` (keeps the speed). Going backwards is allowed but voids the
        'past history never changes' guarantee for the skipped-back period."""
        with self._lock:
            self._anchor_real = time.time()
            self._anchor_sim = _epoch(when)

    def advance(self, seconds: float) -> None:
        self.set(self.now() + seconds)
