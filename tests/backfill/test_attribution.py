"""Request attribution of concurrent runs on one shared client (the daemon's case)."""

from __future__ import annotations

import threading

from collector.backfill.stats import attributed
from collector.source import RequestMetrics


class _Client:
    def __init__(self) -> None:
        self.metrics = RequestMetrics()


def test_overlapping_runs_count_only_their_own_threads_and_leave_the_client_alone():
    client = _Client()
    original = client.metrics
    outer_ctx = attributed(client)
    outer = outer_ctx.__enter__()
    with attributed(client) as inner:
        def worker(counts, key, n):
            with counts.attribute(key):
                for _ in range(n):
                    client.metrics.record("calendar_history", 1.0)

        threads = [threading.Thread(target=worker, args=(outer, (1, "energy"), 3)),
                   threading.Thread(target=worker, args=(inner, (2, "energy"), 5))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        client.metrics.record("live_status", 1.0)  # an unattributed thread (a live poll)
    outer_ctx.__exit__(None, None, None)
    assert client.metrics is original
    assert outer.requests == {(1, "energy"): 3}
    assert inner.requests == {(2, "energy"): 5}
    assert original.total_requests() == 9
    client.metrics.record("live_status", 1.0)
    assert outer.requests == {(1, "energy"): 3}
