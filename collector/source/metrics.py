"""Per-endpoint request counters and latency, shared by all threads of a process.

Feeds the ``collector`` measurement (the API-budget meter) and the ``/metrics`` endpoint.
Pure bookkeeping: no I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

Listener = Callable[[str, bool], None]  # (endpoint, is_retry), called in the requesting thread


@dataclass
class EndpointStats:
    requests: int = 0
    errors: int = 0
    rate_limited: int = 0
    retries: int = 0
    billable: int = 0  # answered below 500: Tesla bills it
    latency_ms_total: float = 0.0
    latency_ms_max: float = 0.0

    @property
    def latency_ms_mean(self) -> float:
        return self.latency_ms_total / self.requests if self.requests else 0.0

    def add(self, other: EndpointStats) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.rate_limited += other.rate_limited
        self.retries += other.retries
        self.billable += other.billable
        self.latency_ms_total += other.latency_ms_total
        self.latency_ms_max = max(self.latency_ms_max, other.latency_ms_max)


class RequestMetrics:
    """Thread-safe counters keyed by endpoint name (``live_status``, ``calendar_history``...)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, EndpointStats] = {}
        self._window: dict[str, EndpointStats] = {}
        self._listeners: tuple[Listener, ...] = ()

    def record(
        self,
        endpoint: str,
        latency_ms: float,
        *,
        error: bool = False,
        rate_limited: bool = False,
        retry: bool = False,
        billable: bool = False,
    ) -> None:
        with self._lock:
            for table in (self._totals, self._window):
                stats = table.setdefault(endpoint, EndpointStats())
                stats.requests += 1
                stats.errors += int(error)
                stats.rate_limited += int(rate_limited)
                stats.retries += int(retry)
                stats.billable += int(billable)
                stats.latency_ms_total += latency_ms
                stats.latency_ms_max = max(stats.latency_ms_max, latency_ms)
            listeners = self._listeners
        for listener in listeners:
            listener(endpoint, retry)

    @contextmanager
    def listen(self, listener: Listener) -> Iterator[None]:
        """Call ``listener`` for every request recorded inside the block (any thread)."""
        with self._lock:
            self._listeners = (*self._listeners, listener)
        try:
            yield
        finally:
            with self._lock:
                self._listeners = tuple(x for x in self._listeners if x is not listener)

    def totals(self) -> dict[str, EndpointStats]:
        """Counters since start (copies)."""
        with self._lock:
            return {k: EndpointStats(**vars(v)) for k, v in self._totals.items()}

    def take_window(self) -> dict[str, EndpointStats]:
        """Counters since the previous call, then start a new window."""
        with self._lock:
            window, self._window = self._window, {}
        return window

    def total_requests(self) -> int:
        with self._lock:
            return sum(s.requests for s in self._totals.values())
