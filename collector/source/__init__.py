"""Source stage: the Fleet API over httpx (the only package that imports httpx).

``build_client(settings)`` wires the token manager, metrics and optional rate limiter into a
``FleetClient`` from the configuration.
"""

from __future__ import annotations

import httpx

from collector.config import Settings
from collector.source.client import FleetClient, parse_retry_after
from collector.source.metrics import EndpointStats, RequestMetrics
from collector.source.ratelimit import RateLimiter
from collector.source.tokens import TokenManager, TokenSet, write_private_file

__all__ = [
    "EndpointStats",
    "FleetClient",
    "RateLimiter",
    "RequestMetrics",
    "TokenManager",
    "TokenSet",
    "build_client",
    "parse_retry_after",
    "write_private_file",
]


#: Seconds from a one-shot command's first request during which failures are retried.
ONE_SHOT_RETRY_WINDOW = 10.0


def build_client(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    limiter: RateLimiter | None = None,
    metrics: RequestMetrics | None = None,
) -> FleetClient:
    """A ``FleetClient`` for the configured API and credentials, set up for a one-shot
    command: transient failures retried for ``ONE_SHOT_RETRY_WINDOW`` s, a ``Retry-After`` up
    to the configured limit waited out (the daemon changes both, ``collector.app.build``)."""
    tesla = settings.tesla
    auth_http = httpx.Client(timeout=tesla.timeout_seconds, transport=transport)
    tokens = TokenManager(
        auth_url=tesla.auth_url,
        client_id=tesla.client_id,
        client_secret=tesla.client_secret.value,
        access_token=tesla.access_token.value,
        refresh_token=tesla.refresh_token.value,
        token_file=settings.token_file,
        http=auth_http,
    )
    return FleetClient(
        tesla.api_url,
        tokens,
        timeout=tesla.timeout_seconds,
        request_deadline=tesla.request_deadline_seconds,
        max_retries=tesla.max_retries,
        max_retry_wait=tesla.retry_after_limit_seconds,
        retry_after_limit=tesla.retry_after_limit_seconds,
        retry_window=ONE_SHOT_RETRY_WINDOW,
        transport=transport,
        limiter=limiter,
        metrics=metrics,
    )
