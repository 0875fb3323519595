"""InfluxSink: writes line protocol to InfluxDB, spools it when InfluxDB cannot take it.

The only module (with ``collector.sink``) that imports ``influxdb_client``. Writes use the
SYNCHRONOUS write API against ``/api/v2/write`` (InfluxDB 1.8+ with bucket ``db/rp`` and token
``user:password``, 2.x, 3 Core), seconds precision, with our own bounded retry:

- 2xx: written. 429, 5xx, 401/403/404, connection errors and timeouts: InfluxDB is (for us)
  unavailable; after the retries the lines go to the durable spool, in order. While InfluxDB
  is down each write makes one attempt (the replay of the spool) and no retries, so a job is
  never held up by backoff during an outage.
- 400/413/422: some line is invalid. The batch is bisected until the bad lines are isolated;
  the good lines land, each bad line goes to the dead-letter file with InfluxDB's reason.
- Every write first replays the spool (oldest first), so points reach InfluxDB in the order
  they were produced; a new sink on the same state dir (a restart) replays what is left.

State changes (down once, recovered once) are logged, not every write. The token is only
handed to the client; it never appears in a log line or an error (it is registered for
redaction too). Coverage reads (``query_influxql``) go to the v1 ``/query`` endpoint through
the client's own HTTP stack: influxdb_client's query API speaks Flux only.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import urllib3
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.write_api import SYNCHRONOUS

from collector.config import Settings
from collector.errors import SinkError
from collector.log import get_logger, register_secret
from collector.sink.deadletter import DeadLetters
from collector.sink.lines import WriteResult, as_lines
from collector.sink.spool import PRIVATE_SPOOLS, Spool, open_spool, orphan_spools

log = get_logger(__name__)

INVALID_STATUSES = frozenset({400, 413, 422})
MAX_BACKOFF_SECONDS = 10.0
_REASON_CHARS = 300


@dataclass
class _Attempt:
    ok: bool
    invalid: bool = False
    reason: str = ""
    retry_after: float | None = None


@dataclass
class _Delivery:
    handled: int = 0  # length of the prefix of lines that is done (written or dead-lettered)
    written: int = 0
    dead: int = 0
    failure: _Attempt | None = None


def _reason_from_body(body: Any) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    try:
        data = json.loads(text)
        text = str(data.get("message") or data.get("error") or text)
    except (ValueError, AttributeError):
        pass
    return " ".join(text.split())[:_REASON_CHARS]


def _retry_after(value: Any) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


class InfluxSink:
    """Write frames or lines to InfluxDB with retry, spool, replay and dead letters.

    Thread-safe: writes are serialised. ``points_written``, ``spool_points`` and
    ``dead_letters`` are running counters for the ``collector`` measurement and health.
    """

    def __init__(self, settings: Settings, *, max_attempts: int = 3,
                 backoff_seconds: float = 0.5, chunk_lines: int = 5000,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        influx = settings.influx
        register_secret(influx.token.value)
        self.bucket = influx.bucket
        self.org = influx.org
        self.database = influx.bucket.split("/", 1)[0]
        self.max_attempts = max(1, max_attempts)
        self.backoff_seconds = backoff_seconds
        self.chunk_lines = max(1, chunk_lines)
        self._sleep = sleep
        self._client = InfluxDBClient(url=influx.url, token=influx.token.value or None,
                                      org=influx.org or None,
                                      timeout=int(influx.timeout_seconds * 1000))
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        state_dir = settings.collector.state_dir
        self._state_dir = state_dir
        self._spool_bytes = int(settings.collector.spool_max_mb * 2**20)
        self.spool = open_spool(state_dir, self._spool_bytes)
        self._dead = DeadLetters(state_dir)
        self.points_written = 0
        self._available: bool | None = None
        self._lock = threading.Lock()

    # --- counters and health ---

    @property
    def spool_points(self) -> int:
        return self.spool.points

    @property
    def dead_letters(self) -> int:
        return self._dead.count

    @property
    def dead_letter_path(self) -> Any:
        return self._dead.path

    @property
    def available(self) -> bool | None:
        """True/False after the last write or replay; None before the first one."""
        return self._available

    @property
    def spooling(self) -> bool:
        """True while points wait in the spool or InfluxDB was unavailable at the last try."""
        return self.spool.points > 0 or self._available is False

    def ping(self) -> bool:
        return bool(self._client.ping())

    def health(self) -> dict[str, Any]:
        return {"influxdb": {None: "unknown", True: "up", False: "down"}[self._available],
                "points_written": self.points_written, "spool_points": self.spool_points,
                "dead_letters": self.dead_letters}

    # --- writing ---

    def write(self, data: Any) -> WriteResult:
        """Write frames or lines (after replaying the spool); spool what cannot be written."""
        lines = as_lines(data)
        with self._lock:
            result = WriteResult()
            if self._has_backlog() and not self._replay_locked(result):
                self._spool(lines, result)
                return result
            delivery = self._deliver(lines)
            result.written += delivery.written
            result.dead_lettered += delivery.dead
            if delivery.failure is not None:
                self._spool(lines[delivery.handled:], result)
                self._mark_down(delivery.failure.reason)
            elif lines:
                self._mark_up()
            return result

    def replay(self) -> WriteResult:
        """Send spooled lines in order, chunk by chunk, until the spool is empty or InfluxDB
        fails again."""
        with self._lock:
            result = WriteResult()
            self._replay_locked(result)
            return result

    def _replay_locked(self, result: WriteResult) -> bool:
        if not self._drain(self.spool, result):
            return False
        for orphan in orphan_spools(self._state_dir, self.spool.directory, self._spool_bytes):
            drained = self._drain(orphan, result)
            if drained:
                orphan.discard()
            else:
                orphan.close()
                return False
        if result.replayed:
            self._mark_up(replayed=result.replayed)
        return True

    def _has_backlog(self) -> bool:
        """Own spooled points, or private spools of other processes that may be orphaned."""
        if self.spool.points:
            return True
        root = self._state_dir / PRIVATE_SPOOLS
        return root.is_dir() and any(p != self.spool.directory for p in root.iterdir())

    def _drain(self, spool: Spool, result: WriteResult) -> bool:
        """Send ``spool``'s lines in order; False when InfluxDB failed again."""
        while spool.points:
            batch = spool.read(self.chunk_lines)
            if not batch:
                break
            delivery = self._deliver(batch)
            spool.commit(delivery.handled)
            result.replayed += delivery.written
            result.dead_lettered += delivery.dead
            if delivery.failure is not None:
                self._mark_down(delivery.failure.reason)
                return False
        return True

    def _spool(self, lines: list[str], result: WriteResult) -> None:
        self.spool.append(lines)
        result.spooled += len(lines)

    def _deliver(self, lines: list[str]) -> _Delivery:
        """Send ``lines`` in chunks; bisect invalid chunks down to the bad lines."""
        delivery = _Delivery()
        pending = deque((start, min(start + self.chunk_lines, len(lines)))
                        for start in range(0, len(lines), self.chunk_lines))
        while pending:
            start, end = pending.popleft()
            attempt = self._send_with_retry(lines[start:end])
            if attempt.ok:
                delivery.written += end - start
                self.points_written += end - start
            elif not attempt.invalid:
                delivery.failure = attempt
                return delivery
            elif end - start > 1:
                middle = (start + end) // 2
                pending.extendleft([(middle, end), (start, middle)])
                continue
            else:
                self._dead_letter(lines[start:end], attempt.reason)
                delivery.dead += 1
            delivery.handled = end
        return delivery

    def _dead_letter(self, lines: list[str], reason: str) -> None:
        self._dead.append(lines, reason)
        log.warning("influxdb_rejected_point", reason=reason, points=len(lines),
                    dead_letter_file=str(self._dead.path))

    def _send_with_retry(self, lines: list[str]) -> _Attempt:
        attempts = 1 if self._available is False else self.max_attempts
        attempt = _Attempt(ok=False)
        for number in range(attempts):
            attempt = self._send(lines)
            if attempt.ok or attempt.invalid or number == attempts - 1:
                return attempt
            delay = attempt.retry_after
            if delay is None:
                delay = self.backoff_seconds * 2**number
            self._sleep(min(delay, MAX_BACKOFF_SECONDS))
        return attempt

    def _send(self, lines: list[str]) -> _Attempt:
        try:
            self._write_api.write(bucket=self.bucket, org=self.org or None,
                                  record="\n".join(lines), write_precision=WritePrecision.S)
            return _Attempt(ok=True)
        except InfluxDBError as exc:
            status = getattr(exc, "status", None)
            reason = f"HTTP {status}: {_reason_from_body(getattr(exc, 'body', None))}"
            return _Attempt(ok=False, invalid=status in INVALID_STATUSES, reason=reason,
                            retry_after=_retry_after(getattr(exc, "retry_after", None)))
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return _Attempt(ok=False, reason=f"{type(exc).__name__}: cannot reach InfluxDB")

    def _mark_down(self, reason: str) -> None:
        if self._available is not False:
            log.warning("influxdb_unavailable_spooling", reason=reason,
                        spool_points=self.spool.points)
        self._available = False

    def _mark_up(self, replayed: int = 0) -> None:
        if self._available is False:
            log.info("influxdb_recovered", replayed=replayed, spool_points=self.spool.points)
        self._available = True

    # --- coverage reads ---

    def query_influxql(self, query: str, epoch: str = "s",
                       database: str | None = None) -> list[dict[str, Any]]:
        """Rows (tags + ``time`` + columns) of an InfluxQL query via ``/query``."""
        params = [("db", database or self.database), ("q", query), ("epoch", epoch)]
        try:
            response = self._client.api_client.call_api(
                "/query", "GET", query_params=params,
                header_params={"Accept": "application/json"},
                _preload_content=False, _return_http_data_only=True)
            payload = json.loads(response.data)
        except InfluxDBError as exc:
            raise SinkError(f"InfluxQL query failed: HTTP {getattr(exc, 'status', '?')} "
                            f"{_reason_from_body(getattr(exc, 'body', None))}") from None
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise SinkError(f"InfluxQL query failed: {type(exc).__name__}") from None
        return _rows(payload, query)

    def close(self) -> None:
        self._write_api.close()
        self._client.close()
        if self.spool.directory.parent.name == PRIVATE_SPOOLS and not self.spool.points:
            self.spool.discard()
        else:
            self.spool.close()

    def __enter__(self) -> InfluxSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rows(payload: dict[str, Any], query: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for result in payload.get("results", []):
        if "error" in result:
            raise SinkError(f"InfluxQL query failed: {result['error']} ({query[:120]})")
        for series in result.get("series", []):
            tags = series.get("tags") or {}
            for values in series.get("values", []):
                rows.append({**tags, **dict(zip(series["columns"], values, strict=True))})
    if "error" in payload:
        raise SinkError(f"InfluxQL query failed: {payload['error']}")
    return rows

