"""RequestMetrics window -> ``collector`` frame (the API-budget meter and sink health).

One point per Fleet API endpoint (tags job, endpoint: requests, errors, rate_limited and mean
latency_ms of the window) plus, when sink counters are given, one point with endpoint
``influxdb`` carrying points_written and spool_points. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from collector.transform.fields import COLLECTOR
from collector.transform.frame import Frame, Row, build_frame, epoch_seconds

SINK_ENDPOINT = "influxdb"


class EndpointStats(Protocol):
    """What is read from ``collector.source.metrics.EndpointStats`` (not imported: the source
    package imports httpx, which the transform must not)."""

    requests: int
    errors: int
    rate_limited: int

    @property
    def latency_ms_mean(self) -> float: ...


def collector_frame(window: Mapping[str, EndpointStats], job: str, collected_at: datetime,
                    points_written: int | None = None,
                    spool_points: int | None = None) -> Frame:
    """The ``collector`` points of one metrics window at ``collected_at`` (whole seconds)."""
    when = epoch_seconds(collected_at)
    rows = [
        Row(when, {"job": job, "endpoint": endpoint}, {
            "requests": stats.requests, "errors": stats.errors,
            "rate_limited": stats.rate_limited, "latency_ms": stats.latency_ms_mean,
            "billable": stats.billable,
        })
        for endpoint, stats in sorted(window.items())
    ]
    sink = {k: v for k, v in (("points_written", points_written),
                              ("spool_points", spool_points)) if v is not None}
    if sink:
        rows.append(Row(when, {"job": job, "endpoint": SINK_ENDPOINT}, sink))
    return build_frame(COLLECTOR, rows)


def bill_frame(billable_month: int, cost_usd: float, collected_at: datetime) -> Frame:
    """The month-to-date Fleet API bill: one ``collector`` point (job ``api``, endpoint
    ``bill``) with the billable requests of this UTC month and their cost before the credit."""
    return build_frame(COLLECTOR, [Row(epoch_seconds(collected_at), {
        "job": "api", "endpoint": "bill"},
        {"billable_month": billable_month, "api_cost_month_usd": cost_usd})])
