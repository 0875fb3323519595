"""The Fleet API client: the one request chokepoint and one thin method per endpoint.

``FleetClient.request`` owns the base URL, bearer token (and its refresh on 401), timeouts
and the total deadline of every request (connect + every byte of the answer), envelope
unwrapping, the mapping from HTTP status to typed errors, bounded retries with jittered
backoff (within a retry window for one-shot commands), ``Retry-After`` handling, the shared
rate limiter and request metrics. Every wait between attempts ends at once on ``cancel()``
(shutdown). The endpoint methods only build paths, parameters and bodies. Nothing here knows
about pandas or InfluxDB.
"""

from __future__ import annotations

import random
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple

import httpx

from collector.config import NA_API_URL
from collector.errors import (
    ApiError,
    AuthRequired,
    InvalidResponse,
    NotFound,
    RateLimited,
    RequestRejected,
    RetryAfterTooLong,
    TransientError,
    WrongApiUrl,
)
from collector.jsonio import decode_json
from collector.log import get_logger
from collector.source.metrics import RequestMetrics
from collector.source.ratelimit import RateLimiter
from collector.source.tokens import REAUTH_HINT, TokenManager

log = get_logger(__name__)

DEFAULT_RETRY_AFTER = 10.0
#: A ``Retry-After`` longer than this (seconds) ends a one-shot command; the daemon postpones.
RETRY_AFTER_LIMIT = 900.0
#: Waits between attempts longer than this are logged (a person may be watching).
ANNOUNCE_WAIT_SECONDS = 5.0
#: The largest answer read per endpoint, compressed and decompressed (bytes). A day of
#: 5-minute energy buckets is about 300 kB and a live_status a few kB; anything far larger
#: is not a Fleet API answer (a gzip bomb, a misrouted download) and is refused unread.
MAX_ANSWER_BYTES = {"calendar_history": 32 << 20, "telemetry_history": 32 << 20}
DEFAULT_MAX_ANSWER_BYTES = 4 << 20
TRANSIENT_STATUSES = frozenset({408, 424, 500, 502, 503, 504})
Json = Any
#: Connections to the Fleet API kept open: as many as the daemon's live threads can use at
#: once (``collector.jobs.MAX_LIVE_THREADS`` plus the other jobs), kept longer than a live
#: interval. httpx's defaults (20 kept, idle ones closed after 5 s) made a large fleet open a
#: new connection, with its TLS handshake, for most polls, and a small one for every poll.
POOL_LIMITS = httpx.Limits(max_connections=160, max_keepalive_connections=160,
                           keepalive_expiry=90.0)


def parse_retry_after(value: str | None, now: float | None = None) -> float:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return DEFAULT_RETRY_AFTER
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    return max(0.0, when - (time.time() if now is None else now))


def _error_body(content: bytes) -> dict[str, Any] | None:
    """The Fleet API's error object (``{"response": null, "error": ...}``), or None when
    the body is something else (a proxy's page, a web server's "404 page not found")."""
    try:
        body = decode_json(content)
    except ValueError:
        return None
    return body if isinstance(body, dict) and "error" in body else None


def _error_text(content: bytes) -> str:
    """The API's ``error`` field (short), never the whole body or any header."""
    body = _error_body(content) or {}
    error = body.get("error") or body.get("error_description") or ""
    return str(error)[:120]


def retry_at_text(seconds: float) -> str:
    """``2024-05-12 14:03:07 PDT (in 3600 s)``: when a rate-limited request may be retried."""
    when = datetime.now().astimezone() + timedelta(seconds=seconds)
    return f"{when:%Y-%m-%d %H:%M:%S %Z} (local time, in {seconds:.0f} s)"


def _fmt_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("history start/end must be time-zone aware datetimes")
    return value.isoformat(timespec="seconds")


class FleetClient:
    """Synchronous, thread-safe Fleet API client (one per process, shared by jobs)."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenManager,
        *,
        timeout: float = 30.0,
        request_deadline: float = 30.0,
        max_retries: int = 4,
        max_retry_wait: float = 60.0,
        retry_after_limit: float = RETRY_AFTER_LIMIT,
        retry_window: float | None = None,
        transport: httpx.BaseTransport | None = None,
        metrics: RequestMetrics | None = None,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] | None = None,
        jitter: Callable[[], float] = random.random,
        cancelled: threading.Event | None = None,
        window: _RetryWindow | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.request_deadline = request_deadline
        self.max_retries = max_retries
        #: Longest ``Retry-After`` slept through inline (longer: ``RateLimited`` at once).
        self.max_retry_wait = max_retry_wait
        #: Longest ``Retry-After`` honoured at all (longer: ``RetryAfterTooLong``).
        self.retry_after_limit = retry_after_limit
        #: Seconds from the first request during which transient failures are retried
        #: (one-shot commands give up on an unreachable API in time); None: always.
        self.retry_window = retry_window
        self._window = window or _RetryWindow()  # shared by siblings: one window per command
        self.metrics = metrics or RequestMetrics()
        self.limiter = limiter
        #: The daemon's ``budget.MonthToDate`` (None: no hard stop, e.g. the CLI commands).
        self.gate: Any = None
        self._cancelled = cancelled or threading.Event()
        self._sleep = sleep or self._cancelled.wait
        self._jitter = jitter
        self._transport, self._timeout, self._injected_sleep = transport, timeout, sleep
        # No single read or connect may outlast the deadline; between chunks it is checked.
        self._attempt_timeout = httpx.Timeout(min(timeout, request_deadline),
                                              connect=min(timeout, 10.0, request_deadline))
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=self._attempt_timeout,
            transport=transport,
            limits=POOL_LIMITS,
            headers={"Accept": "application/json", "Accept-Encoding": "gzip, deflate",
                     "User-Agent": "tesla-energy-collector"},
        )
        parse_cookies_only_when_set(self._http.cookies)

    def close(self) -> None:
        self._http.close()

    def cancel(self) -> None:
        """Shutdown: every wait between attempts (backoff, ``Retry-After``) of this client and
        its siblings ends now with ``TransientError``; no request is retried afterwards."""
        self._cancelled.set()

    def with_limiter(self, limiter: RateLimiter) -> FleetClient:
        """A sibling client with its own request budget, sharing tokens (so refreshes stay
        single), metrics and cancellation: the daemon's history and gap-fill work is held to
        the backfill rate without slowing the live polls."""
        return FleetClient(
            self.base_url, self.tokens, timeout=self._timeout,
            request_deadline=self.request_deadline, max_retries=self.max_retries,
            max_retry_wait=self.max_retry_wait, retry_after_limit=self.retry_after_limit,
            retry_window=self.retry_window, transport=self._transport, metrics=self.metrics,
            limiter=limiter, sleep=self._injected_sleep, jitter=self._jitter,
            cancelled=self._cancelled, window=self._window)

    def __enter__(self) -> FleetClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- the chokepoint -------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        max_retries: int | None = None,
    ) -> Json:
        """Send one logical request (with retries) and return the unwrapped ``response``.

        Transient failures and 429s are retried up to ``max_retries`` times (transient ones
        only within the retry window); a 429 whose ``Retry-After`` exceeds ``max_retry_wait``
        is raised at once as ``RateLimited`` so the caller (a scheduled job) can reschedule
        instead of blocking, one beyond ``retry_after_limit`` as ``RetryAfterTooLong``.
        """
        retries = self.max_retries if max_retries is None else max_retries
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        auth_retried = False
        attempt = 0
        self._open_window()
        while True:
            try:
                return self._send_once(method, path, endpoint, clean, body, attempt > 0)
            except _TokenRejected as rejected:
                if auth_retried:
                    raise AuthRequired(
                        f"{endpoint}: the Fleet API rejected a freshly refreshed token (401); "
                        + REAUTH_HINT,
                        status=401,
                        endpoint=endpoint,
                    ) from None
                auth_retried = True
                self.tokens.rejected(rejected.token)
                continue
            except RetryAfterTooLong:
                raise
            except RateLimited as exc:
                if attempt >= retries or exc.retry_after > self.max_retry_wait:
                    raise
                delay = exc.retry_after + self._jitter()
            except TransientError:
                delay = min(30.0, 0.5 * 2**attempt) * (0.5 + self._jitter())
                if attempt >= retries or not self._within_window(delay):
                    raise
            attempt += 1
            self._wait(delay, endpoint, attempt)

    def _open_window(self) -> None:
        if self.retry_window is not None:
            self._window.open(self.retry_window)

    def _within_window(self, delay: float) -> bool:
        return self.retry_window is None or self._window.allows(delay)

    def _wait(self, delay: float, endpoint: str, attempt: int) -> None:
        """Sleep ``delay`` before the next attempt; ``TransientError`` once cancelled."""
        if delay > ANNOUNCE_WAIT_SECONDS:
            log.warning("waiting before retrying", endpoint=endpoint, wait_s=round(delay),
                        until=retry_at_text(delay))
        else:
            log.debug("retrying request", endpoint=endpoint, attempt=attempt, delay_s=delay)
        if not self._cancelled.is_set():
            self._sleep(delay)
        if self._cancelled.is_set():
            raise TransientError(f"{endpoint}: not retried: the collector is stopping",
                                 endpoint=endpoint)

    def _send_once(
        self,
        method: str,
        path: str,
        endpoint: str,
        params: Mapping[str, Any],
        body: Mapping[str, Any] | None,
        is_retry: bool,
    ) -> Json:
        if self.limiter:
            self.limiter.acquire()
        token = self.tokens.access_token()
        gate = self.gate
        if gate is not None:
            gate.admit(endpoint)  # raises BudgetExhausted once the month's cap is reached
        started = time.perf_counter()
        outcome = {"error": True, "rate_limited": False, "billable": False}
        request = self._http.build_request(
            method, path, params=params, json=body,
            headers={"Authorization": f"Bearer {token}"}, timeout=self._attempt_timeout)
        try:
            answer = self._exchange(request, endpoint)
            outcome["billable"] = answer.status < 500  # Tesla bills every answer < 500
            result = self._interpret(answer, request.url, endpoint, token)
            outcome["error"] = False
            return result
        except RateLimited as exc:
            outcome["rate_limited"] = True
            if self.limiter and exc.retry_after <= self.retry_after_limit:
                self.limiter.pause(exc.retry_after)
            raise
        except httpx.TimeoutException:
            raise TransientError(f"{endpoint}: request timed out", endpoint=endpoint) from None
        except httpx.TransportError as exc:
            raise TransientError(
                f"{endpoint}: cannot reach {self.base_url} ({type(exc).__name__})",
                endpoint=endpoint,
            ) from None
        finally:
            if gate is not None and not outcome["billable"]:
                gate.refund()
            self.metrics.record(
                endpoint,
                (time.perf_counter() - started) * 1000.0,
                error=outcome["error"],
                rate_limited=outcome["rate_limited"],
                retry=is_retry,
                billable=outcome["billable"],
            )

    def _exchange(self, request: httpx.Request, endpoint: str) -> _Answer:
        """Send ``request`` and read its whole answer within the request deadline (checked
        after the headers and after every chunk: a server trickling bytes cannot hold us)."""
        deadline = time.monotonic() + self.request_deadline
        limit = MAX_ANSWER_BYTES.get(endpoint, DEFAULT_MAX_ANSWER_BYTES)
        response = self._http.send(request, stream=True)
        try:
            self._check_deadline(deadline, request, endpoint)
            body = _BoundedBody(endpoint, limit, response.headers)
            # A response object replayed by a test transport has been read already.
            # Chunks as the network gives them (a fixed size would buffer a trickle).
            raws = [response.content] if response.is_stream_consumed else response.iter_raw()
            for raw in raws:
                body.feed(raw)
                self._check_deadline(deadline, request, endpoint)
            return _Answer(response.status_code, body.finish(),
                           response.headers.get("Retry-After"))
        finally:
            response.close()

    def _check_deadline(self, deadline: float, request: httpx.Request, endpoint: str) -> None:
        if time.monotonic() > deadline:
            url = request.url.copy_with(query=None)
            raise TransientError(f"{endpoint}: no complete answer within "
                                 f"{self.request_deadline:g} s from {url}", endpoint=endpoint)

    def _interpret(self, answer: _Answer, url: httpx.URL, endpoint: str, token: str) -> Json:
        status, content = answer.status, answer.content
        if status == 200 or status == 201:
            return self._unwrap(content, endpoint)
        reason = _error_text(content)
        where = f"{endpoint}: HTTP {status}" + (f" {reason}" if reason else "")
        if status == 401:
            if "login_required" in reason:
                raise AuthRequired(f"{where}; " + REAUTH_HINT, status=status, endpoint=endpoint)
            raise _TokenRejected(token)
        if status == 429:
            raise self._rate_limited(where, endpoint, answer.retry_after)
        if status in TRANSIENT_STATUSES or status >= 500:
            raise TransientError(where, status=status, endpoint=endpoint)
        if status == 404:
            raise self._not_found(where, content, url, endpoint)
        if status == 403:
            raise AuthRequired(
                f"{where} (the token lacks a scope: energy_device_data / energy_cmds)",
                status=status,
                endpoint=endpoint,
            )
        if status == 421:
            raise RequestRejected(
                f"{where} (wrong region: set TESLA_API_URL to na, eu or cn, or to the "
                "fleet_api_base_url that 'users/region' reports)",
                status=status,
                endpoint=endpoint,
            )
        raise RequestRejected(where, status=status, endpoint=endpoint)

    def _rate_limited(self, where: str, endpoint: str, header: str | None) -> RateLimited:
        retry_after = parse_retry_after(header)
        if retry_after > self.retry_after_limit:
            return RetryAfterTooLong(
                f"{where}: the Fleet API asks to wait {retry_after:.0f} s, longer than "
                f"{self.retry_after_limit:.0f} s; try again after {retry_at_text(retry_after)}",
                retry_after=retry_after, status=429, endpoint=endpoint)
        return RateLimited(f"{where} (rate limited; retry after {retry_after:.0f} s)",
                           retry_after=retry_after, status=429, endpoint=endpoint)

    def _not_found(self, where: str, content: bytes, url: httpx.URL,
                   endpoint: str) -> NotFound:
        """A 404 for a site path answered with the Fleet API's error body names the site id;
        anything else (a path the API does not have, another server's page, a base URL with
        a path) names the URL and ``TESLA_API_URL``."""
        site_path = "/energy_sites/" in url.path and not httpx.URL(self.base_url).path.strip("/")
        if _error_body(content) is not None and site_path:
            return NotFound(f"{where} (unknown or stale site id?)", status=404,
                            endpoint=endpoint)
        return WrongApiUrl(
            f"{where} from {url.copy_with(query=None)}: no such API path; TESLA_API_URL "
            f"({self.base_url}) looks wrong: set it to the Fleet API base URL alone, e.g. "
            f"{NA_API_URL} (no path)", status=404, endpoint=endpoint)

    @staticmethod
    def _unwrap(content: bytes, endpoint: str) -> Json:
        try:
            body = decode_json(content)
        except ValueError:
            raise InvalidResponse(
                f"{endpoint}: answer is not valid JSON", endpoint=endpoint
            ) from None
        if not isinstance(body, dict) or "response" not in body:
            raise InvalidResponse(
                f"{endpoint}: answer has no 'response' envelope", endpoint=endpoint
            )
        return body["response"]

    # --- endpoints ------------------------------------------------------------------------

    def _site(self, site_id: int | str, name: str) -> str:
        return f"/api/1/energy_sites/{int(site_id)}/{name}"

    def users_region(self) -> dict[str, Any]:
        """``{"region": ..., "fleet_api_base_url": ...}`` for the token's account."""
        return _expect_dict(self.request("GET", "/api/1/users/region", endpoint="users_region"),
                            "users_region")

    def products(self) -> list[dict[str, Any]]:
        """The energy sites the token can see (vehicles are skipped)."""
        items = self.request("GET", "/api/1/products", endpoint="products")
        if not isinstance(items, list):
            raise InvalidResponse("products: response is not a list", endpoint="products")
        return [p for p in items if isinstance(p, dict) and p.get("energy_site_id") is not None]

    def live_status(self, site_id: int) -> dict[str, Any]:
        path = self._site(site_id, "live_status")
        return _expect_dict(self.request("GET", path, endpoint="live_status"), "live_status")

    def site_info(self, site_id: int) -> dict[str, Any]:
        path = self._site(site_id, "site_info")
        return _expect_dict(self.request("GET", path, endpoint="site_info"), "site_info")

    def calendar_history(
        self,
        site_id: int,
        kind: str,
        start: datetime,
        end: datetime,
        period: str = "day",
        time_zone: str | None = None,
    ) -> dict[str, Any]:
        """``kind`` energy or backup; ``start``/``end`` aware datetimes sent with their offset."""
        params = {
            "kind": kind,
            "start_date": _fmt_time(start),
            "end_date": _fmt_time(end),
            "period": period,
            "time_zone": time_zone or None,
        }
        path = self._site(site_id, "calendar_history")
        answer = self.request("GET", path, endpoint="calendar_history", params=params)
        return _expect_dict(answer, "calendar_history")

    def telemetry_history(
        self,
        site_id: int,
        start: datetime,
        end: datetime,
        time_zone: str | None = None,
        kind: str = "charge",
    ) -> dict[str, Any]:
        """Wall Connector charge history between ``start`` and ``end``."""
        params = {
            "kind": kind,
            "start_date": _fmt_time(start),
            "end_date": _fmt_time(end),
            "time_zone": time_zone or None,
        }
        path = self._site(site_id, "telemetry_history")
        answer = self.request("GET", path, endpoint="telemetry_history", params=params)
        return _expect_dict(answer, "telemetry_history")

    # --- commands (POST) ------------------------------------------------------------------

    def _command(self, site_id: int, name: str, body: Mapping[str, Any]) -> Json:
        # Commands are not idempotent-safe to repeat blindly after a timeout: one retry only.
        return self.request("POST", self._site(site_id, name), endpoint=name, body=body,
                            max_retries=1)

    def backup(self, site_id: int, backup_reserve_percent: int) -> Json:
        return self._command(site_id, "backup", {"backup_reserve_percent": backup_reserve_percent})

    def grid_import_export(
        self,
        site_id: int,
        *,
        disallow_charge_from_grid_with_solar_installed: bool | None = None,
        customer_preferred_export_rule: str | None = None,
    ) -> Json:
        body: dict[str, Any] = {}
        if disallow_charge_from_grid_with_solar_installed is not None:
            body["disallow_charge_from_grid_with_solar_installed"] = (
                disallow_charge_from_grid_with_solar_installed
            )
        if customer_preferred_export_rule is not None:
            body["customer_preferred_export_rule"] = customer_preferred_export_rule
        if not body:
            raise ValueError("grid_import_export needs at least one setting")
        return self._command(site_id, "grid_import_export", body)

    def off_grid_vehicle_charging_reserve(self, site_id: int, percent: int) -> Json:
        body = {"off_grid_vehicle_charging_reserve_percent": percent}
        return self._command(site_id, "off_grid_vehicle_charging_reserve", body)

    def operation(self, site_id: int, default_real_mode: str) -> Json:
        return self._command(site_id, "operation", {"default_real_mode": default_real_mode})

    def storm_mode(self, site_id: int, enabled: bool) -> Json:
        return self._command(site_id, "storm_mode", {"enabled": enabled})

    def time_of_use_settings(self, site_id: int, tariff_content_v2: Mapping[str, Any]) -> Json:
        body = {"tou_settings": {"tariff_content_v2": tariff_content_v2}}
        return self._command(site_id, "time_of_use_settings", body)


_DECODERS = {"gzip": 47, "x-gzip": 47, "deflate": 47}  # zlib wbits: gzip or zlib header


def parse_cookies_only_when_set(cookies: httpx.Cookies) -> None:
    """Let ``cookies`` (an httpx client's jar) look only at answers that set a cookie. httpx
    hands every answer to ``http.cookiejar`` (wrapping request and answer in urllib objects),
    about 0.1 ms of CPU a request, a seventh of a live poll's; Fleet API answers set none. An
    answer with a ``Set-Cookie`` header is stored exactly as before."""
    extract = cookies.extract_cookies

    def extract_when_set(response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            extract(response)

    cookies.extract_cookies = extract_when_set  # type: ignore[method-assign]


class _BoundedBody:
    """An answer's body decoded as it arrives and refused past ``limit`` bytes, compressed
    or not: a gzip bomb is stopped after ``limit`` bytes of output, never expanded whole."""

    def __init__(self, endpoint: str, limit: int, headers: httpx.Headers) -> None:
        self.endpoint, self.limit = endpoint, limit
        self._parts: list[bytes] = []
        self._size = 0
        encoding = headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("identity", "", *_DECODERS):
            raise InvalidResponse(f"{endpoint}: answer in an unknown encoding {encoding!r}",
                                  endpoint=endpoint)
        wbits = _DECODERS.get(encoding)
        self._inflate = None if wbits is None else zlib.decompressobj(wbits)
        declared = headers.get("Content-Length", "")
        self._check(int(declared) if declared.isdigit() else 0)

    def feed(self, raw: bytes) -> None:
        if self._inflate is None:
            self._add(raw)
            return
        while raw:
            try:
                out = self._inflate.decompress(raw, self.limit - self._size + 1)
            except zlib.error:
                raise InvalidResponse(f"{self.endpoint}: answer cannot be decoded (bad "
                                      "compression)", endpoint=self.endpoint) from None
            self._add(out)
            raw = self._inflate.unconsumed_tail

    def finish(self) -> bytes:
        if self._inflate is not None:
            self._add(self._inflate.flush())
        return b"".join(self._parts)

    def _add(self, data: bytes) -> None:
        self._check(self._size + len(data))
        self._size += len(data)
        self._parts.append(data)

    def _check(self, size: int) -> None:
        if size > self.limit:
            raise InvalidResponse(f"{self.endpoint}: answer larger than {self.limit >> 20} MB "
                                  "refused (not a Fleet API answer)", endpoint=self.endpoint)


class _RetryWindow:
    """When retries of transient failures end: ``retry_window`` s after the first request of
    a client or any of its siblings."""

    def __init__(self) -> None:
        self._end: float | None = None
        self._lock = threading.Lock()

    def open(self, seconds: float) -> None:
        with self._lock:
            if self._end is None:
                self._end = time.monotonic() + seconds

    def allows(self, delay: float) -> bool:
        return self._end is None or time.monotonic() + delay <= self._end


class _Answer(NamedTuple):
    """One HTTP answer read in full: status, body bytes (decoded), ``Retry-After`` header."""

    status: int
    content: bytes
    retry_after: str | None


class _TokenRejected(ApiError):
    """Internal: a plain 401 for ``token``; the chokepoint refreshes and retries once."""

    def __init__(self, token: str) -> None:
        super().__init__("access token rejected (401)", status=401)
        self.token = token

    def __reduce__(self):  # never pickle the token along
        return (ApiError, ("access token rejected (401)",))


def _expect_dict(value: Json, endpoint: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidResponse(f"{endpoint}: response is not a JSON object", endpoint=endpoint)
    return value
