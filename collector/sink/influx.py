"""InfluxSink: writes line protocol to InfluxDB, spools what InfluxDB does not take.

Every answer is classified (``collector.sink.answers``), and what happens next depends on it:

- written (2xx);
- invalid (400/413/422): the batch is bisected until the bad lines are isolated; the good lines
  land, each bad line goes to the dead-letter file with InfluxDB's reason;
- transient (unreachable, timeout, 5xx, 429): InfluxDB is *down*; after the retries the lines
  go to the durable spool, in order. While down, each write makes one attempt and no retries;
- refused (401/403, database/bucket/org missing, no write endpoint at the URL): InfluxDB is up
  but *refuses* this configuration. The lines are spooled too (nothing is lost), the refusal is
  logged once with the setting to fix, health shows it, and one-shot commands end with exit 1
  (``ensure_delivered``). Retrying cannot help until a person acts.

All attempts to send one chunk share one deadline (``influx.write_deadline_seconds``); each
request's timeout is what is left of it, so a hung InfluxDB costs at most the deadline, while
a long replay of a healthy server goes on chunk by chunk. Every write first replays the spool
(oldest first), so points reach InfluxDB in the order they were produced; a new sink on the
same state dir (a restart) replays what is left.

``check_target`` is the start-up probe: it detects the server (``/ping``'s version: 1.x is
written through ``/write``, 2.x and 3 through ``/api/v2/write``, see ``collector.sink.target``)
and sends an empty write, which each server checks for credentials, permission, database or
bucket before it looks at the (absent) body; nothing is written. A refusal stops the command
(``InfluxRefused``, exit 2); an unreachable server is reported once and the command carries on
with the spool. Coverage reads (``query_influxql``) use ``/query`` on every server.

The token never appears in a log line or an error (it is registered for redaction, and travels
only in a header). Thread-safe: sends are serialised by one lock, spool access by another, so a
caller that only spools (``keep``) never waits for an HTTP request.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from collector.config import Settings
from collector.errors import InfluxRefused, PointsKept, SinkError
from collector.jsonio import decode_json
from collector.log import get_logger, register_secret
from collector.sink.answers import INVALID, OK, REFUSED, TRANSIENT, Answer, Refusal, classify
from collector.sink.deadletter import DeadLetters
from collector.sink.lines import WriteResult, as_lines
from collector.sink.spool import PRIVATE_SPOOLS, Spool, open_spool, orphan_spools
from collector.sink.target import Target
from collector.sink.transport import Reply, Transport, Unreachable

log = get_logger(__name__)

MAX_BACKOFF_SECONDS = 10.0
UNKNOWN, UP, DOWN, REFUSING = "unknown", "up", "down", "refused"


@dataclass
class _Delivery:
    handled: int = 0  # length of the prefix of lines that is done (written or dead-lettered)
    written: int = 0
    dead: int = 0
    failure: Answer | None = None


class _Budget:
    """What is left of one write's deadline."""

    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return self._end - self._clock()


class InfluxSink:
    """Write frames or lines to InfluxDB with retry, deadline, spool, replay and dead letters.

    ``state`` is ``unknown`` (nothing tried yet), ``up``, ``down`` or ``refused``;
    ``points_written``, ``spool_points`` and ``dead_letters`` are counters for the
    ``collector`` measurement and health.
    """

    def __init__(self, settings: Settings, *, max_attempts: int = 3,
                 backoff_seconds: float = 0.5, chunk_lines: int = 5000,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        influx = settings.influx
        register_secret(influx.token.value)
        self.target = Target(influx.url, influx.bucket, influx.org)
        self.timeout = influx.timeout_seconds
        self.write_deadline = influx.write_deadline_seconds
        self.max_attempts = max(1, max_attempts)
        self.backoff_seconds = backoff_seconds
        self.chunk_lines = max(1, chunk_lines)
        self._sleep = sleep
        self._clock = clock
        self._transport = Transport(influx.url, influx.token.value)
        state_dir = settings.collector.state_dir
        self._state_dir = state_dir
        self._spool_bytes = int(settings.collector.spool_max_mb * 2**20)
        self.spool = open_spool(state_dir, self._spool_bytes)
        self._dead = DeadLetters(state_dir)
        self.points_written = 0
        self.state = UNKNOWN
        self.last_error = ""
        self.refusal: Refusal | None = None
        self._send_lock = threading.Lock()
        self._spool_lock = threading.Lock()
        self._detect_lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.target.url

    @property
    def database(self) -> str:
        return self.target.database

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
        return {UNKNOWN: None, UP: True}.get(self.state, False)

    @property
    def failing(self) -> bool:
        """InfluxDB is down or refuses writes (as of the last attempt)."""
        return self.state in (DOWN, REFUSING)

    @property
    def spooling(self) -> bool:
        """True while points wait in the spool or InfluxDB failed at the last try."""
        return self.spool.points > 0 or self.failing

    def ping(self) -> bool:
        try:
            return self._transport.ping(self.timeout).status < 300
        except Unreachable:
            return False

    def health(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "influxdb": self.state, "url": self.url, "api": self.target.api or "unknown",
            "points_written": self.points_written, "spool_points": self.spool_points,
            "dead_letters": self.dead_letters}
        if self.failing:
            report["error"] = self.last_error
        if self.state == REFUSING and self.refusal is not None:
            report["fix"] = f"{self.refusal.setting}: {self.refusal.advice}"
        return report

    # --- the start-up probe ---

    def check_target(self) -> bool:
        """Probe the target once without writing data: True when it accepts writes, False when
        it is unreachable (said once; the command carries on with the spool). A refusal
        raises ``InfluxRefused`` naming the URL, the target and the setting to change."""
        try:
            answer = self._probe()
        except Unreachable as exc:
            answer = Answer(TRANSIENT, str(exc))
        if answer.kind == REFUSED and answer.refusal is not None:
            raise InfluxRefused(answer.refusal.start_line(self.target))
        if answer.kind == TRANSIENT:
            self.state, self.last_error = DOWN, answer.reason
            log.warning("influxdb_unreachable_at_start", url=self.url, reason=answer.reason,
                        spool=str(self.spool.directory),
                        effect="points wait in the spool until InfluxDB answers")
            return False
        self.state = UP
        return True

    def _probe(self) -> Answer:
        answer = self._detect()
        if answer is not None:
            return answer
        reply = self._transport.post_lines(self.target, [], self.timeout)
        answer = self._classify(reply)
        # An empty body passes every check a server makes before reading it: 1.x answers
        # 204, 2.x and 3 Core 400 ("writing requires points", "empty write").
        return Answer(OK) if answer.kind == INVALID else answer

    def _detect(self) -> Answer | None:
        """Learn the server's API from ``/ping`` once; an answer when ``/ping`` itself fails."""
        with self._detect_lock:
            return None if self.target.api else self._detect_locked()

    def _detect_locked(self) -> Answer | None:
        reply = self._transport.ping(self.timeout)
        if reply.status in (401, 403) or reply.status >= 500:
            return self._classify(reply)
        version = reply.header("X-Influxdb-Version")
        self.target = self.target.detected(version)
        self._transport.use_api(self.target.api)
        log.info("influxdb_detected", url=self.url, version=version or "unknown",
                 write_api=self.target.write_request()[0])
        return None

    # --- writing ---

    def write(self, data: Any) -> WriteResult:
        """Write frames or lines (after replaying the spool); spool what cannot be written."""
        lines = as_lines(data)
        result, rest = self.deliver(lines)
        if rest:
            self.keep(rest)
            result.spooled += len(rest)
        return result

    def deliver(self, lines: list[str], cancelled: Callable[[], bool] | None = None,
                ) -> tuple[WriteResult, list[str]]:
        """Replay the spool, then send ``lines`` (each chunk within the write deadline). Returns the
        result and the lines that were not written (the caller keeps them: ``keep``).
        ``cancelled()`` true after the replay: ``lines`` were meanwhile spooled by the caller
        (and just replayed), so they are not sent again out of order."""
        with self._send_lock:
            result = WriteResult()
            if self._has_backlog() and not self._replay_locked(result):
                return result, lines
            if cancelled is not None and cancelled():
                return result, []
            delivery = self._deliver(lines)
            result.written += delivery.written
            result.dead_lettered += delivery.dead
            if delivery.failure is not None:
                self._mark_failed(delivery.failure)
                return result, lines[delivery.handled:]
            if lines:
                self._mark_up()
            return result, []

    def keep(self, lines: list[str]) -> None:
        """Append ``lines`` to the spool (disk only: never waits for InfluxDB)."""
        if lines:
            with self._spool_lock:
                self.spool.append(lines)

    def replay(self) -> WriteResult:
        """Send spooled lines in order, chunk by chunk, until the spool is empty or InfluxDB
        fails again."""
        with self._send_lock:
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
        with self._spool_lock:
            if self.spool.has_lines():
                return True
        root = self._state_dir / PRIVATE_SPOOLS
        try:  # os.listdir, not is_dir + iterdir: this runs before every write
            names = os.listdir(root)
        except OSError:  # no private spools at all
            return False
        return any(root / name != self.spool.directory for name in names)

    def _drain(self, spool: Spool, result: WriteResult) -> bool:
        """Send ``spool``'s lines in order until it reads empty; False when InfluxDB failed."""
        lock = self._spool_lock if spool is self.spool else threading.Lock()
        while True:
            with lock:
                batch = spool.read(self.chunk_lines)
            if not batch:
                return True
            delivery = self._deliver(batch)
            with lock:
                spool.commit(delivery.handled)
            result.replayed += delivery.written
            result.dead_lettered += delivery.dead
            if delivery.failure is not None:
                self._mark_failed(delivery.failure)
                return False

    def _deliver(self, lines: list[str]) -> _Delivery:
        """Send ``lines`` in chunks; bisect invalid chunks down to the bad lines."""
        delivery = _Delivery()
        pending = deque((start, min(start + self.chunk_lines, len(lines)))
                        for start in range(0, len(lines), self.chunk_lines))
        while pending:
            start, end = pending.popleft()
            answer = self._send_with_retry(lines[start:end])
            if answer.kind == OK:
                delivery.written += end - start
                self.points_written += end - start
            elif answer.kind != INVALID:
                delivery.failure = answer
                return delivery
            elif end - start > 1:
                middle = (start + end) // 2
                pending.extendleft([(middle, end), (start, middle)])
                continue
            else:
                self._dead_letter(lines[start:end], answer.reason)
                delivery.dead += 1
            delivery.handled = end
        return delivery

    def _dead_letter(self, lines: list[str], reason: str) -> None:
        self._dead.append(lines, reason)
        log.warning("influxdb_rejected_point", reason=reason, points=len(lines),
                    dead_letter_file=str(self._dead.path))

    def _send_with_retry(self, lines: list[str]) -> Answer:
        """Send one chunk: retries while transient, all within one write deadline."""
        budget = _Budget(self.write_deadline, self._clock)
        attempts = 1 if self.failing else self.max_attempts
        answer = Answer(TRANSIENT, "write deadline passed before the first attempt")
        for number in range(attempts):
            left = budget.remaining()
            if left <= 0:
                return answer
            answer = self._send(lines, min(self.timeout, left))
            if answer.kind != TRANSIENT or number == attempts - 1:
                return answer
            delay = answer.retry_after
            if delay is None:
                delay = self.backoff_seconds * 2**number
            self._sleep(max(0.0, min(delay, MAX_BACKOFF_SECONDS, budget.remaining())))
        return answer

    def _send(self, lines: list[str], timeout: float) -> Answer:
        try:
            answer = self._detect()
            if answer is not None:
                return answer
            return self._classify(self._transport.post_lines(self.target, lines, timeout))
        except Unreachable as exc:
            return Answer(TRANSIENT, f"cannot reach InfluxDB: {exc}")

    def _classify(self, reply: Reply) -> Answer:
        return classify(reply.status, reply.body, self.target, reply.retry_after)

    # --- state changes (logged once each) ---

    def _mark_failed(self, answer: Answer) -> None:
        if answer.kind == REFUSED and answer.refusal is not None:
            self._mark_refused(answer)
        else:
            self._mark_down(answer.reason)

    def _mark_down(self, reason: str) -> None:
        if self.state != DOWN:
            log.warning("influxdb_unavailable_spooling", url=self.url, reason=reason,
                        spool_points=self.spool.points)
        self.state, self.last_error = DOWN, reason

    def _mark_refused(self, answer: Answer) -> None:
        refusal = answer.refusal
        assert refusal is not None
        if self.state != REFUSING or self.refusal != refusal:
            log.error("influxdb_refused_writes", url=self.url, target=self.target.describe(),
                      answered=refusal.answered, fix=refusal.advice,
                      spool_points=self.spool.points,
                      effect="points are kept in the spool until the setting is fixed")
        self.state, self.last_error, self.refusal = REFUSING, answer.reason, refusal

    def _mark_up(self, replayed: int = 0) -> None:
        if self.failing:
            log.info("influxdb_recovered", url=self.url, replayed=replayed,
                     spool_points=self.spool.points)
        self.state, self.last_error, self.refusal = UP, "", None

    # --- the end of a one-shot command ---

    def undelivered(self) -> str:
        """``""`` when nothing waits in the spool, else the line a one-shot command ends with."""
        points = self.spool_points
        if not points:
            return ""
        if self.state == REFUSING and self.refusal is not None:
            return self.refusal.kept_line(points)
        reason = self.last_error or "it has not answered yet"
        return (f"{points} points kept in the spool, not written: InfluxDB at {self.url} did "
                f"not take them ({reason}); start InfluxDB or fix INFLUX_URL and run again: "
                "the spool is written first")

    def ensure_delivered(self, refusals_only: bool = False) -> None:
        """Raise ``PointsKept`` (exit 1) when points wait in the spool; with
        ``refusals_only`` only when InfluxDB refuses them (an outage is then just reported)."""
        message = self.undelivered()
        if message and (self.state == REFUSING or not refusals_only):
            raise PointsKept(message)
        if message:
            log.warning("points_kept_in_spool", detail=message)

    # --- coverage reads ---

    def query_influxql(self, query: str, epoch: str = "s",
                       database: str | None = None) -> list[dict[str, Any]]:
        """Rows (tags + ``time`` + columns) of an InfluxQL query via ``/query``."""
        return [{**series.tags, **dict(zip(series.columns, values, strict=True))}
                for series in self.query_series(query, epoch, database)
                for values in series.values]

    def query_series(self, query: str, epoch: str = "s",
                     database: str | None = None) -> list[Series]:
        """The series of an InfluxQL query via ``/query``, as InfluxDB answers them (no dict
        per row: a year of buckets is read back by the cost and battery figures)."""
        try:
            failed = self._detect()
            if failed is None:
                reply = self._transport.query(database or self.database, query, epoch,
                                              self.timeout)
                failed = None if reply.status < 300 else self._classify(reply)
        except Unreachable as exc:
            raise SinkError(f"cannot read from InfluxDB at {self.url}: {exc}; check INFLUX_URL "
                            "and that InfluxDB is running") from None
        if failed is not None:
            raise self._query_error(failed)
        try:
            payload = decode_json(reply.body)
        except ValueError:
            raise SinkError(f"InfluxDB at {self.url} answered a query with something that is "
                            "not JSON; check INFLUX_URL") from None
        return _series(payload, query)

    def _query_error(self, answer: Answer) -> Exception:
        refusal = answer.refusal
        if answer.kind == REFUSED and refusal is not None:
            return InfluxRefused(f"InfluxDB at {self.url} refused a read of "
                                 f"{self.target.describe()}: HTTP {refusal.status} "
                                 f"{refusal.message}; reading needs a token that may read it: "
                                 f"fix {refusal.setting}")
        return SinkError(f"InfluxQL query at {self.url} failed: {answer.reason}")

    def close(self) -> None:
        self._transport.close()
        with self._spool_lock:
            if self.spool.directory.parent.name == PRIVATE_SPOOLS and not self.spool.points:
                self.spool.discard()
            else:
                self.spool.close()

    def __enter__(self) -> InfluxSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Series(NamedTuple):
    """One series of an InfluxQL answer: its tags (GROUP BY), column names, value rows."""

    tags: dict[str, Any]
    columns: list[str]
    values: list[list[Any]]


def _series(payload: dict[str, Any], query: str) -> list[Series]:
    found: list[Series] = []
    for result in payload.get("results", []):
        if "error" in result:
            raise SinkError(f"InfluxQL query failed: {result['error']} ({query[:120]})")
        for series in result.get("series", []):
            found.append(Series(series.get("tags") or {}, series["columns"],
                                series.get("values", [])))
    if "error" in payload:
        raise SinkError(f"InfluxQL query failed: {payload['error']}")
    return found
