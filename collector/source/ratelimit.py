"""A shared request-rate limiter: a token bucket plus a global pause for ``Retry-After``.

One limiter is shared by every thread of a run (a backfill's workers), so the whole run slows
down when the API says so. ``cancel()`` wakes every waiting caller at once (shutdown); their
``acquire`` then raises ``TransientError`` instead of sending. The clock and sleep are
injectable for tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from collector.errors import TransientError


class RateLimiter:
    """At most ``rate`` requests per second on average, bursts of at most ``burst``."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.burst = max(1.0, burst)
        self._clock = clock
        self._cancelled = threading.Event()
        self._sleep = sleep or self._cancelled.wait
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._updated = clock()
        self._paused_until = 0.0

    def _reserve(self) -> float:
        """Take one token; return how long the caller must wait before using it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1.0
            wait_for_token = -self._tokens / self.rate if self._tokens < 0 else 0.0
            return max(wait_for_token, self._paused_until - now)

    def acquire(self) -> None:
        """Block until one request may be sent (``TransientError`` once cancelled)."""
        wait = self._reserve()
        if wait > 0 and not self._cancelled.is_set():
            self._sleep(wait)
        if self._cancelled.is_set():
            raise TransientError("request budget closed: the collector is stopping")

    def cancel(self) -> None:
        """Wake every caller waiting for its turn; later calls fail at once."""
        self._cancelled.set()

    def pause(self, seconds: float) -> None:
        """Hold every caller for ``seconds`` from now (a 429's ``Retry-After``)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)
            self._tokens = min(self._tokens, 0.0)
