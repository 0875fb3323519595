"""The daemon's health signal: a heartbeat file, an optional HTTP endpoint, and a checker.

The daemon records every successful InfluxDB write here; the heartbeat file (JSON, written
atomically, at most once every few seconds) carries the time of the last successful write
and how old it may get before the daemon counts as stale (3 live intervals). ``python -m
collector.health`` (the container HEALTHCHECK) exits 0 when fresh, 1 when stale or missing.
The optional HTTP server answers ``/healthz`` (200 ok / 503 stale or failing) and ``/metrics``
(Prometheus text). The sink's state (``sink_state``: up, down, refused, spool size) is part of
the heartbeat, and so are the live polls expected, completed and missed (``cadence``).
InfluxDB *refusing* writes (wrong token, missing database) counts as failing at once, while
InfluxDB *down* only makes the daemon stale after 3 live intervals without a write. A
scheduled job that completes no cycle (successful or not) within ``HUNG_INTERVALS`` of its
intervals is *hung* and counts as failing too, named in the status. Nothing here talks to the
Fleet API or InfluxDB.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from collector.files import write_private_file

HEARTBEAT_FILE = "heartbeat.json"
WRITE_EVERY_SECONDS = 5.0
#: A job that completed no cycle for this many of its intervals is reported hung.
HUNG_INTERVALS = 3.0


class Health:
    """Tracks the last successful write and per-job state; persists the heartbeat file."""

    sink_state: Callable[[], dict[str, Any]] | None = None  # the sink's health(), when set
    #: The API budget's state (``MonthToDate.state``): while paused the daemon is not stale.
    budget_state: Callable[[], dict[str, Any]] | None = None
    #: Live polls expected / completed / missed (``collector.cadence``), when set.
    live_polls: Callable[[], dict[str, int]] | None = None

    def __init__(self, state_dir: Path, stale_after: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = state_dir / HEARTBEAT_FILE
        self.stale_after = stale_after
        self._clock = clock
        self._lock = threading.Lock()
        self.started_at = clock()
        self.last_write: float | None = None
        self.jobs: dict[str, dict[str, Any]] = {}
        #: job -> the time by which it must complete its next cycle (scheduled jobs only).
        self._due: dict[str, tuple[float, float]] = {}  # job -> (interval, due by)
        self._saved_at = 0.0

    def expect(self, job: str, interval: float) -> None:
        """``job`` runs every ``interval`` s: it is hung once it completes no cycle for
        ``HUNG_INTERVALS`` intervals (counted from now, and from each completion)."""
        with self._lock:
            due = self._clock() + HUNG_INTERVALS * interval
            self._due[job] = (interval, self._due.get(job, (0.0, due))[1])

    def postponed(self, job: str, seconds: float) -> None:
        """``job`` was told to wait ``seconds`` (a Retry-After): not hung meanwhile."""
        with self._lock:
            if job in self._due:
                interval, due = self._due[job]
                self._due[job] = (interval, max(due, self._clock() + seconds
                                                + HUNG_INTERVALS * interval))

    def job_done(self, job: str, ok: bool, error: str = "") -> None:
        with self._lock:
            now = self._clock()
            entry = self.jobs.setdefault(job, {"last_success": None, "failing": False})
            entry["failing"] = not ok
            entry["error"] = error
            entry["last_done"] = now
            if ok:
                entry["last_success"] = now
            if job in self._due:
                interval, due = self._due[job]
                self._due[job] = (interval, max(due, now + HUNG_INTERVALS * interval))

    def hung(self) -> list[str]:
        """Scheduled jobs past their due time: running (or stuck) without completing."""
        now = self._clock()
        with self._lock:
            return sorted(job for job, (_, due) in self._due.items() if now > due)

    def forget(self, job: str) -> None:
        """Drop a job that no longer exists (its sites were removed)."""
        with self._lock:
            self.jobs.pop(job, None)
            self._due.pop(job, None)

    def wrote(self) -> None:
        """Record a successful InfluxDB write (spooled points do not count)."""
        now = self._clock()
        with self._lock:
            self.last_write = now
            due = now - self._saved_at >= WRITE_EVERY_SECONDS
            if due:
                self._saved_at = now
        if due:
            self.save()

    def is_stale(self) -> bool:
        if self.budget_state is not None and self.budget_state().get("paused"):
            return False  # no requests on purpose until the month ends
        reference = self.last_write or self.started_at
        return self._clock() - reference > self.stale_after

    def status(self) -> str:
        """``influxdb refused`` (failing now), ``hung: live:0, ...``, ``stale`` or ``ok``."""
        snapshot = self.snapshot()
        if _sink_refused(snapshot):
            return "influxdb refused"
        if snapshot["hung"]:
            return _hung_text(snapshot["hung"])
        return "stale" if self.is_stale() else "ok"

    def snapshot(self) -> dict[str, Any]:
        hung = self.hung()
        with self._lock:
            snapshot = {
                "last_write": self.last_write,
                "started_at": self.started_at,
                "stale_after": self.stale_after,
                "jobs": {k: dict(v) for k, v in self.jobs.items()},
                "hung": hung,
            }
        if self.sink_state is not None:
            snapshot["sink"] = self.sink_state()
        if self.budget_state is not None:
            snapshot["budget"] = self.budget_state()
        if self.live_polls is not None:
            snapshot["live_polls"] = self.live_polls()
        return snapshot

    def save(self) -> None:
        # On failure the HTTP endpoint still answers and the checker reports the file stale.
        with contextlib.suppress(OSError):
            write_private_file(self.path, json.dumps(self.snapshot()))


def check_heartbeat(path: Path, now: float | None = None) -> tuple[bool, str]:
    """(healthy, reason) from a heartbeat file."""
    try:
        beat = json.loads(path.read_text())
    except (OSError, ValueError):
        return False, f"no readable heartbeat at {path}"
    if _sink_refused(beat):
        sink = beat["sink"]
        return False, f"InfluxDB refuses writes ({sink.get('error')}); fix {sink.get('fix')}"
    if beat.get("hung"):
        return False, _hung_text(beat["hung"])
    budget = beat.get("budget")
    if isinstance(budget, dict) and budget.get("paused"):
        return True, f"ok: COLLECTOR_API_BUDGET reached; paused until {budget.get('resume_at')}"
    now = time.time() if now is None else now
    reference = beat.get("last_write") or beat.get("started_at") or 0
    age = now - float(reference)
    if age > float(beat.get("stale_after") or 0):
        return False, f"stale: last successful write {age:.0f} s ago"
    return True, f"ok: last successful write {age:.0f} s ago"


def _hung_text(jobs: list[str]) -> str:
    return (f"hung: job {', '.join(jobs)} completed no cycle within {HUNG_INTERVALS:g} "
            "intervals")


def _sink_refused(snapshot: dict[str, Any]) -> bool:
    sink = snapshot.get("sink")
    return isinstance(sink, dict) and sink.get("influxdb") == "refused"


#: Concurrent connections the endpoint serves; more are closed at once (never a thread each).
MAX_CONNECTIONS = 16
#: Seconds a connection may stay silent (idle, or trickling its request) before it is closed.
CONNECTION_TIMEOUT_SECONDS = 5.0


class _BoundedHTTPServer(ThreadingHTTPServer):
    """A threading server with a ceiling on live connections: a probe or scraper that opens
    connections and never speaks cannot pile up threads."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 max_connections: int) -> None:
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # over the limit: close, no thread
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class HealthServer:
    """``/healthz`` and ``/metrics`` on ``host:port`` (a daemon thread); loopback by default,
    at most ``max_connections`` at once, each closed after ``timeout`` silent seconds."""

    def __init__(self, port: int, health: Health, metrics_text: Callable[[], str],
                 host: str = "127.0.0.1", *, max_connections: int = MAX_CONNECTIONS,
                 timeout: float = CONNECTION_TIMEOUT_SECONDS) -> None:
        handler = _handler(health, metrics_text, timeout)
        self.server = _BoundedHTTPServer((host, port), handler, max_connections)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        name="health-http")

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(health: Health, metrics_text: Callable[[], str],
             timeout: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Socket timeout per connection (idle keep-alive or a request trickled byte by byte).
        # http.server closes the connection when it expires.
        def setup(self) -> None:
            self.timeout = timeout
            super().setup()

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            if self.path.startswith("/healthz"):
                status = health.status()
                body = json.dumps({"status": status, **health.snapshot()})
                self._send(200 if status == "ok" else 503, body, "application/json")
            elif self.path.startswith("/metrics"):
                self._send(200, metrics_text(), "text/plain; version=0.0.4")
            else:
                self._send(404, "not found\n", "text/plain")

        def _send(self, status: int, body: str, content_type: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: Any) -> None:
            return

    return Handler


def replica_state_dir(state_dir: Path, shard_text: str) -> Path:
    """Where a sharded replica keeps its heartbeat (``collector.config.for_replica``)."""
    from collector.shard import parse_shard

    try:
        shard = parse_shard(shard_text)
    except ValueError:
        return state_dir  # the daemon itself refuses a bad COLLECTOR_SHARD
    return state_dir / shard.directory_name if shard.sharded else state_dir


def main(argv: list[str] | None = None) -> int:
    """Container HEALTHCHECK: exit 0 when the heartbeat is fresh, else 1."""
    args = sys.argv[1:] if argv is None else argv
    state_dir = Path(args[0] if args else os.environ.get("COLLECTOR_STATE_DIR", "./state"))
    if not args:
        state_dir = replica_state_dir(state_dir, os.environ.get("COLLECTOR_SHARD", ""))
    healthy, reason = check_heartbeat(state_dir / HEARTBEAT_FILE)
    print(reason)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
