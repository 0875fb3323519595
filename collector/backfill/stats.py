"""Counters of a backfill run per (site, kind), and the end-of-run summary table.

``AttributedMetrics`` wraps the client's ``RequestMetrics`` for the duration of a run: every
request the client records is still recorded in the original, and is also attributed to the
(site, kind) the calling worker thread is fetching, so the summary can show real request and
retry counts (the client's own 429/5xx retries included). Pure bookkeeping: no I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from collector.errors import CollectorError, TransientError

Key = tuple[int, str]


@dataclass
class KindStats:
    """What happened to one site's one kind during a run."""

    site_id: int
    kind: str
    windows: int = 0
    skipped: int = 0
    done: int = 0
    failed: int = 0
    days: int = 0
    buckets: int = 0
    events: int = 0
    sessions: int = 0
    dropped: int = 0  # records skipped as malformed or implausible (logged per reply)
    priced: int = 0  # energy_cost points written with the buckets
    unpriced: int = 0  # buckets the tariff has no buy price for
    requests: int = 0
    retries: int = 0
    started: float | None = None
    finished: float | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def wall_seconds(self) -> float:
        if self.started is None or self.finished is None:
            return 0.0
        return max(0.0, self.finished - self.started)


@dataclass
class Summary:
    """The result of a run: per-(site, kind) stats plus run-level facts."""

    stats: dict[Key, KindStats] = field(default_factory=dict)
    wall_seconds: float = 0.0
    interrupted: bool = False
    error: str = ""
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    def get(self, site_id: int, kind: str) -> KindStats:
        return self.stats.setdefault((site_id, kind), KindStats(site_id, kind))

    @property
    def failed_windows(self) -> int:
        return sum(s.failed for s in self.stats.values())

    @property
    def ok(self) -> bool:
        return not (self.interrupted or self.error or self.failed_windows)

    def total(self, name: str) -> int:
        return sum(int(getattr(s, name)) for s in self.stats.values())

    def raise_for_failure(self) -> None:
        """Raise what stopped the run, or ``TransientError`` naming the first failed window
        (for callers such as the daemon whose failure handling works on exceptions)."""
        if self.exception is not None:
            raise self.exception
        if self.error:
            raise CollectorError(self.error)
        failures = [f for s in self.stats.values() for f in s.failures]
        if failures:
            raise TransientError(f"{len(failures)} history window(s) failed; first: "
                                 f"{failures[0]}")


_COLUMNS = ("days", "buckets", "events", "sessions", "requests", "retries")


def format_summary(summary: Summary) -> list[str]:
    """One line per site and kind, then a status line."""
    header = f"{'site':>16} {'kind':7}" + "".join(f"{c:>9}" for c in _COLUMNS)
    lines = [header + f"{'skipped':>9}{'dropped':>9}{'failed':>8}{'wall':>9}"]
    for (site_id, kind), s in sorted(summary.stats.items()):
        cells = "".join(f"{getattr(s, c):>9}" for c in _COLUMNS)
        lines.append(f"{site_id:>16} {kind:7}{cells}{s.skipped:>9}{s.dropped:>9}{s.failed:>8}"
                     f"{s.wall_seconds:>8.1f}s")
    lines.extend(_cost_lines(summary))
    lines.append(_status_line(summary))
    for s in summary.stats.values():
        lines.extend(f"  failed: {text}" for text in s.failures[:10])
    return lines


def _cost_lines(summary: Summary) -> list[str]:
    """What the import priced (only when a tariff was known, i.e. something was priced)."""
    priced, unpriced = summary.total("priced"), summary.total("unpriced")
    if not priced and not unpriced:
        return []
    line = f"energy cost: {priced} of {summary.total('buckets')} buckets priced"
    if unpriced:
        line += f"; {unpriced} have no buy price in the tariff (see 'tesla-energy cost')"
    return [line]


def _status_line(summary: Summary) -> str:
    wall = f"wall time {summary.wall_seconds:.1f} s"
    if summary.error:
        return f"backfill stopped: {summary.error} ({wall})"
    if summary.interrupted:
        return f"backfill interrupted; run it again to continue where it stopped ({wall})"
    if summary.failed_windows:
        return (f"backfill finished with {summary.failed_windows} failed window(s); run it again "
                f"to retry them ({wall})")
    dropped = summary.total("dropped")
    if dropped:
        return (f"backfill complete; {dropped} record(s) were dropped as malformed or "
                f"implausible (see the warnings) ({wall})")
    return f"backfill complete ({wall})"


class AttributedMetrics:
    """Counts the requests of a run per (site, kind): each worker thread says which window it
    is fetching (``attribute``), and a listener on the client's ``RequestMetrics`` counts the
    requests that thread makes. Other threads using the same client (the daemon's live polls,
    a concurrent run) are not counted, and the client itself is never modified."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self.requests: dict[Key, int] = {}
        self.retries: dict[Key, int] = {}

    @contextmanager
    def attribute(self, key: Key) -> Iterator[None]:
        """Attribute the calling thread's requests to ``key`` inside the block."""
        previous = getattr(self._local, "key", None)
        self._local.key = key
        try:
            yield
        finally:
            self._local.key = previous

    def on_request(self, _endpoint: str, retry: bool) -> None:
        key = getattr(self._local, "key", None)
        if key is None:
            return
        with self._lock:
            self.requests[key] = self.requests.get(key, 0) + 1
            self.retries[key] = self.retries.get(key, 0) + int(retry)


@contextmanager
def attributed(client: Any) -> Iterator[AttributedMetrics]:
    """Count ``client``'s requests per (site, kind) for the duration of the block."""
    counts = AttributedMetrics()
    with client.metrics.listen(counts.on_request):
        yield counts
