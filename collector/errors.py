"""Error types, named by what the caller should do next.

Every expected failure of the product is one of these; the CLI turns them into one line and
an exit code (``ConfigError``/``UsageError`` -> 2, the rest -> 1). Messages must never contain
secrets: build them from names and statuses, never from headers or token values.
"""

from __future__ import annotations


class CollectorError(Exception):
    """Base of all expected failures; ``exit_code`` is what the CLI returns."""

    exit_code = 1


class UsageError(CollectorError):
    """Bad command-line arguments or input files: fix the input and run again."""

    exit_code = 2


class ConfigError(UsageError):
    """Invalid configuration: the message names the key, the problem and the fix."""


class ApiError(CollectorError):
    """A Fleet API request failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None, endpoint: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.endpoint = endpoint


class BudgetExhausted(CollectorError):
    """COLLECTOR_API_BUDGET is spent for this month: send no billable request until the next."""


class AuthRequired(ApiError):
    """Credentials are missing, expired beyond refresh, or revoked: stop and re-authenticate."""


class NoCredentials(AuthRequired, ConfigError):
    """No Fleet API token is configured at all: a configuration problem (exit 2)."""

    exit_code = 2


class RateLimited(ApiError):
    """HTTP 429: wait ``retry_after`` seconds before the next request to this API."""

    def __init__(self, message: str, *, retry_after: float, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class RetryAfterTooLong(RateLimited):
    """HTTP 429 whose ``Retry-After`` is longer than the configured limit: a one-shot command
    stops (its message says when to retry), the daemon postpones the job that long."""


class TransientError(ApiError):
    """5xx, timeout or connection failure: retry later; nothing is wrong with the request."""


class InvalidResponse(ApiError):
    """The API answered with something we cannot use (bad JSON, wrong shape): drop and log."""


class NotFound(ApiError):
    """404: the site or endpoint does not exist for this token (stale or wrong site id)."""


class WrongApiUrl(NotFound, ConfigError):
    """404 for a path the Fleet API does not have: ``TESLA_API_URL`` is wrong (exit 2)."""

    exit_code = 2


class RequestRejected(ApiError):
    """4xx other than the above (400, 402, 403, 412, 421...): the request itself is wrong."""


class SinkError(CollectorError):
    """InfluxDB could not be written and the spool could not take the points either."""


class InfluxRefused(ConfigError):
    """InfluxDB refused the configured token, bucket/database, org or URL at start: the message
    names the URL, the target, what the server said and the setting to change (exit 2)."""


class PointsKept(CollectorError):
    """A one-shot command ends with points in the spool that InfluxDB has not taken (refused
    or unreachable): nothing is lost, but nothing claims success either (exit 1)."""


class SpoolFull(SinkError):
    """The disk holding the spool is full (or a file size limit was hit): the points could not
    be kept on disk. The spool itself stays intact; appends resume when space returns."""
