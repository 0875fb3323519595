"""The simulated Fleet API over HTTP: ``SimServer`` runs a ``ThreadingHTTPServer`` (HTTP/1.1
keep-alive) with the Fleet paths, the OAuth token endpoint, bearer checks, fault injection and
a request log, on top of one ``SiteModel`` per site.

This module only speaks HTTP: it parses requests, asks ``payloads``/``commands`` for answers
and ``faults`` for what to break, and writes responses. Physics live in ``model``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from collector.sim import payloads
from collector.sim.auth import OAuthRefused, TokenIssuer
from collector.sim.commands import COMMANDS, CommandRejected, parse_command
from collector.sim.faults import Decision, FaultConfig, FaultInjector, LoggedRequest, RequestLog
from collector.sim.model import SiteModel
from collector.sim.physics import Outage
from collector.sim.spec import SimConfig
from collector.sim.timegrid import day_bounds, local_date

_SITE_PATH = re.compile(r"^/api/1/energy_sites/(\d+)/([a-z_]+)$")
_SITE_GETS = ("live_status", "site_info", "calendar_history", "telemetry_history")
_PERIODS = ("day", "month", "year", "lifetime")
TOKEN_PATH = "/oauth2/v3/token"
STATUS_PATH = "/status"
UPDATED = {"code": 201, "message": "Updated"}


class HttpError(Exception):
    """Answer ``status`` with the Fleet error body ``{"response":null,"error":...}``."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


def _encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _envelope(payload: Any) -> bytes:
    return _encode({"response": payload})


def _error_body(error: str) -> bytes:
    return _encode({"response": None, "error": error, "error_description": ""})


class _BodyCache:
    """Encoded bodies of completed past days (immutable), per site, bounded LRU."""

    def __init__(self, limit: int = 4096) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple, bytes] = OrderedDict()
        self._limit = limit

    def get_or_build(self, key: tuple, build: Callable[[], bytes]) -> bytes:
        with self._lock:
            found = self._items.get(key)
        if found is None:
            found = build()
            with self._lock:
                self._items[key] = found
                while len(self._items) > self._limit:
                    self._items.popitem(last=False)
        return found

    def drop_site(self, site_id: int) -> None:
        with self._lock:
            for key in [k for k in self._items if k[0] == site_id]:
                del self._items[key]


class _QuietHTTPServer(ThreadingHTTPServer):
    """A client that hung up (timeout fault, impatient client) is not a server error."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class SimServer:
    """The simulator, in-process: ``with SimServer(SimConfig(sites=3, seed=1)) as sim:``.

    ``base_url`` / ``auth_url`` are where it serves; ``sites`` maps energy_site_id to the
    ``SiteModel``; ``faults`` and ``requests`` control faults and read the request log;
    ``clock`` is the injectable clock. The ground-truth helpers return exactly what the
    endpoints serve.
    """

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.clock = self.config.clock
        specs = self.config.site_specs()
        self.sites: dict[int, SiteModel] = {s.site_id: SiteModel(s, self.config.seed)
                                            for s in specs}
        self.faults = FaultInjector(self.config.faults)
        self.requests = RequestLog()
        self.tokens = TokenIssuer(self.clock.now, fixed_token=self.config.token,
                                  ttl=self.config.access_token_ttl)
        self.bodies = _BodyCache()
        self.stopping = threading.Event()
        self._httpd: _QuietHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> SimServer:
        httpd = _QuietHTTPServer((self.config.host, self.config.port), _Handler)
        httpd.daemon_threads = True
        httpd.sim = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="fleet-sim",
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def serve_forever(self) -> None:
        """Block until ``stop`` (from a signal handler or another thread)."""
        while not self.stopping.wait(0.5):
            pass

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        host = self.config.host if self.config.host not in ("0.0.0.0", "") else "127.0.0.1"
        return f"http://{host}:{self.port}"

    @property
    def auth_url(self) -> str:
        return self.base_url + TOKEN_PATH

    @property
    def site_ids(self) -> list[int]:
        return list(self.sites)

    # --- control and ground truth --------------------------------------------------------

    def set_faults(self, config: FaultConfig | None = None, **changes: Any) -> None:
        """Switch faults at runtime: a new ``FaultConfig`` and/or field changes to it."""
        self.faults.configure(config or self.faults.config, **changes)

    def model(self, site_id: int) -> SiteModel:
        try:
            return self.sites[int(site_id)]
        except (KeyError, ValueError):
            raise HttpError(404, "not_found") from None

    def remove_site(self, site_id: int) -> SiteModel:
        """Take a site off the account at runtime (products stops listing it; its endpoints
        answer 404); returns its model for ``add_site``."""
        sites = dict(self.sites)
        model = sites.pop(int(site_id))
        self.sites = sites  # replaced, never mutated: handler threads may be iterating
        self.bodies.drop_site(int(site_id))
        return model

    def add_site(self, model: SiteModel) -> None:
        """Put a site (back) on the account at runtime."""
        self.sites = {**self.sites, model.spec.site_id: model}

    def change_settings(self, site_id: int, **changes: Any) -> None:
        """Apply settings changes from the clock's now on (what the POST commands do)."""
        self.model(site_id).change_settings(self.clock.now(), **changes)
        self.bodies.drop_site(int(site_id))

    def energy_rows(self, site_id: int, day: date) -> list[dict[str, Any]] | None:
        return payloads.energy_rows(self.model(site_id), day, self.clock.now())

    def backup_events(self, site_id: int, start: float, end: float) -> list[Outage]:
        return payloads.backup_events(self.model(site_id), start, end, self.clock.now())

    def charge_sessions(self, site_id: int, start: float, end: float) -> list[dict[str, Any]]:
        return payloads.charge_sessions(self.model(site_id), start, end, self.clock.now())

    def live_status(self, site_id: int) -> dict[str, Any]:
        return payloads.live_status(self.model(site_id), self.clock.now())

    def site_info(self, site_id: int) -> dict[str, Any]:
        return payloads.site_info(self.model(site_id), self.clock.now())

    # --- endpoint answers (encoded bodies) ------------------------------------------------

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> bytes:
        """The encoded body for an authorized request, or ``HttpError``."""
        now = self.clock.now()
        if path == "/api/1/products" and method == "GET":
            entries = [payloads.product_entry(m, now) for m in self.sites.values()]
            return _encode({"response": [payloads.VEHICLE_ENTRY, *entries],
                            "count": len(entries) + 1})
        if path == "/api/1/users/region" and method == "GET":
            return _envelope({"region": "na", "fleet_api_base_url": self.base_url})
        match = _SITE_PATH.match(path)
        if match is None:
            raise HttpError(404, "not_found")
        model, name = self.model(int(match.group(1))), match.group(2)
        if method == "POST" and name in COMMANDS:
            return self._command(model, name, body)
        if method == "GET" and name in _SITE_GETS:
            return self._site_get(model, name, query, now)
        raise HttpError(404, "not_found")

    def _command(self, model: SiteModel, name: str, body: Any) -> bytes:
        try:
            changes = parse_command(name, body, solar_only=model.spec.solar_only)
        except CommandRejected as exc:
            raise HttpError(400, str(exc)) from None
        self.change_settings(model.spec.site_id, **changes)
        return _envelope(UPDATED)

    def _site_get(self, model: SiteModel, name: str, query: dict[str, str], now: float) -> bytes:
        if name == "live_status":
            return _envelope(payloads.live_status(model, now))
        if name == "site_info":
            return _envelope(payloads.site_info(model, now))
        if name == "telemetry_history":
            if query.get("kind") != "charge":
                raise HttpError(400, "kind must be charge")
            start, end = _range(model, query, now)
            return _envelope({"charge_history": payloads.charge_sessions(model, start, end, now)})
        return self._calendar(model, query, now)

    def _calendar(self, model: SiteModel, query: dict[str, str], now: float) -> bytes:
        kind = query.get("kind")
        if kind == "backup":
            start, end = _range(model, query, now)
            page = self.config.backup_page_size
            return _envelope(payloads.backup_history(model, start, end, now, page))
        if kind != "energy":
            raise HttpError(400, "kind must be one of energy, backup")
        period = query.get("period", "day")
        if period not in _PERIODS:
            raise HttpError(400, "Period must either be 'day', 'month', 'year', or 'lifetime'")
        # Like the real service: no end_date means now (today), and start_date is not needed.
        end = (_parse_time(query, "end_date", model) if query.get("end_date")
               else datetime.fromtimestamp(now, model.zone))
        if period != "day":
            return _envelope(payloads.energy_history(model, period, end, now))
        day = local_date(end.timestamp(), model.zone)
        if day_bounds(day, model.zone)[1] > now:  # today (or later) still changes
            return _energy_day(model, day, now)
        key = (model.spec.site_id, "energy-day", day)
        return self.bodies.get_or_build(key, lambda: _energy_day(model, day, now))

    def oauth(self, form: dict[str, str]) -> tuple[int, bytes]:
        try:
            return 200, _encode(self.tokens.refresh(form).as_json())
        except OAuthRefused as exc:
            return exc.status, _encode({"error": exc.error,
                                        "error_description": exc.description})


def _energy_day(model: SiteModel, day: date, now: float) -> bytes:
    """The period=day answer, with the rows encoded by ``payloads.energy_rows_json``."""
    header = json.dumps(payloads.history_header(model, "day", now), separators=(",", ":"))
    rows = payloads.energy_rows_json(model, day, now)
    return f'{{"response":{header[:-1]},"time_series":{rows}}}}}'.encode()


def _parse_time(query: dict[str, str], key: str, model: SiteModel) -> datetime:
    text = query.get(key, "")
    if not text:
        raise HttpError(400, f"{key} is required")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise HttpError(400, f"{key} must be an RFC3339 time with offset") from None
    return value if value.tzinfo else value.replace(tzinfo=model.zone)


def _range(model: SiteModel, query: dict[str, str], now: float) -> tuple[float, float]:
    """``[start, end]`` of a backup/charge request: the dates given, else installation / now;
    ``period=lifetime`` always starts at the installation (its pages move only ``end_date``)."""
    start = (_parse_time(query, "start_date", model).timestamp() if query.get("start_date")
             else float(model.installed_at))
    end = _parse_time(query, "end_date", model).timestamp() if query.get("end_date") else now
    if query.get("period") == "lifetime":
        start = float(model.installed_at)
    return start, end


def _endpoint_of(path: str) -> tuple[str, int | None]:
    match = _SITE_PATH.match(path)
    if match:
        return match.group(2), int(match.group(1))
    return {"/api/1/products": "products", "/api/1/users/region": "users_region",
            TOKEN_PATH: "oauth_token", STATUS_PATH: "status"}.get(path, "unknown"), None


def _drop_half(obj: Any) -> Any:
    """The 'missing fields' fault: every other key of the response object(s) removed."""
    if isinstance(obj, dict):
        return {k: v for i, (k, v) in enumerate(obj.items()) if i % 2}
    if isinstance(obj, list):
        return [_drop_half(item) for item in obj]
    return obj


def _break_body(kind: str, body: bytes) -> bytes:
    if kind == "malformed":
        return body[:-1] + b",}"
    if kind == "truncated":
        return body[: max(1, len(body) // 2)]
    decoded = json.loads(body)
    if isinstance(decoded, dict) and "response" in decoded:
        decoded["response"] = _drop_half(decoded["response"])
    return _encode(decoded)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FleetSim/1.0"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        self._handle("POST")

    @property
    def sim(self) -> SimServer:
        return self.server.sim  # type: ignore[attr-defined]

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        raw = self._read_body()
        endpoint, site_id = _endpoint_of(url.path)
        self._logged = False
        self._request = (method, url.path, query, endpoint, site_id)
        status, fault = self._respond(method, url.path, query, raw, endpoint, site_id)
        self._log(status, fault)

    def _log(self, status: int, fault: str | None) -> None:
        if not self._logged:
            self._logged = True
            self.sim.requests.add(LoggedRequest(*self._request, status, fault))

    def _respond(self, method: str, path: str, query: dict[str, str], raw: bytes,
                 endpoint: str, site_id: int | None) -> tuple[int, str | None]:
        if path == TOKEN_PATH and method == "POST":
            form = dict(parse_qsl(raw.decode("utf-8", "replace")))
            status, body = self.sim.oauth(form)
            return self._send(status, body), None
        if path == STATUS_PATH and method == "GET":  # unauthenticated, plain text, like Tesla
            return self._send(200, b"ok", content_type="text/plain; charset=utf-8"), None
        problem = self.sim.tokens.check_bearer(self.headers.get("Authorization"))
        if problem:
            return self._send(401, _error_body(problem)), None
        decision = self.sim.faults.decide(endpoint, str(site_id or "account"),
                                          self.sim.clock.now())
        if decision.latency_s:
            time.sleep(decision.latency_s)
        if decision.fault in ("rate_limit", "timeout", "error"):
            return self._fail(decision), decision.fault
        try:
            body = self.sim.answer(method, path, query, _json_or_none(raw))
        except HttpError as exc:
            return self._send(exc.status, _error_body(exc.error)), None
        if decision.fault:
            body = _break_body(decision.fault, body)
        return self._send(200, body, fault=decision.fault), decision.fault

    def _fail(self, decision: Decision) -> int:
        cfg = self.sim.faults.config
        if decision.fault == "rate_limit":
            headers = {"Retry-After": str(decision.retry_after),
                       "RateLimit-Limit": str(cfg.rate_limit), "RateLimit-Remaining": "0",
                       "RateLimit-Reset": str(decision.retry_after)}
            return self._send(429, _error_body("Rate limit exceeded"), headers, "rate_limit")
        if decision.fault == "error":
            return self._send(cfg.error_status, _error_body("upstream internal error"),
                              fault="error")
        if cfg.timeout_mode == "hang":
            self._log(0, "timeout")  # logged now: the client gives up before the hang ends
            self.sim.stopping.wait(cfg.hang_seconds)
        self.close_connection = True
        return 0

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
              fault: str | None = None,
              content_type: str = "application/json; charset=utf-8") -> int:
        self._log(status, fault)  # before the answer, so a client that got it sees the entry
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
        return status


def _json_or_none(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise HttpError(400, "the request body is not valid JSON") from None
