"""The backfill engine: fetch windows concurrently, convert them, write them, record progress.

``concurrency`` worker threads take windows (newest first) from a queue, fetch each through
the shared ``FleetClient`` (whose one ``RateLimiter`` keeps the whole run inside the request
budget and pauses every worker on a 429), check and convert the reply to line protocol, and
hand the result to one writer thread. The writer batches lines into ``sink.write`` calls and
only after the sink returned (points in InfluxDB or in its fsync'd spool) marks the windows
finished in the checkpoint, so a kill at any moment never loses a window that was claimed
done. Fetching, parsing and writing therefore overlap. With a ``SiteCosting`` per site, the
writer prices each batch's energy buckets and writes their ``energy_cost`` lines in the same
write, and keeps the priced buckets for the settling of charges after the run.

Failures are named by what happens next: bad or wrong-day replies and transient errors are
retried per window and then reported; auth, rejected requests and sink failures stop the run,
and so does InfluxDB refusing the writes (the points are in the spool; more requests would only
spend the API budget).
This module does not plan windows or know field names; it must not import httpx or influxdb.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from collector.backfill.checkpoint import Checkpoint
from collector.backfill.convert import Converted, Expectations, WrongDay, convert, fetch
from collector.backfill.progress import Progress
from collector.backfill.site import ReplyZoneCheck, SiteContext
from collector.backfill.stats import AttributedMetrics, Summary, attributed
from collector.backfill.windows import Window, is_final
from collector.cost.service import SiteCosting
from collector.errors import (
    CollectorError,
    InvalidResponse,
    RateLimited,
    RetryAfterTooLong,
    TransientError,
)
from collector.log import get_logger
from collector.transform import TimeBounds

log = get_logger(__name__)

RETRYABLE = (WrongDay, InvalidResponse, TransientError, RateLimited)
BATCH_POINTS = 5_000
PRICE_ROWS = 20_000  # energy buckets priced together (the cost's per-call overhead is fixed)
_DONE = object()


@dataclass(frozen=True)
class RunOptions:
    """Knobs of one run; the defaults suit the CLI."""

    concurrency: int = 4
    window_attempts: int = 3
    retry_delay_seconds: float = 2.0
    batch_points: int = BATCH_POINTS
    flush_seconds: float = 1.0
    price_rows: int = PRICE_ROWS


@dataclass
class _Result:
    window: Window
    converted: Converted | None
    retries: int
    error: str = ""
    finished_at: float = field(default_factory=time.monotonic)


class Runner:
    """Runs one list of windows to completion, interruption or a fatal error."""

    def __init__(
        self,
        client: Any,
        sink: Any,
        sites: dict[int, SiteContext],
        *,
        options: RunOptions = RunOptions(),
        checkpoint: Checkpoint | None = None,
        progress: Callable[[int], Progress] | None = None,
        stop: threading.Event | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        costing: Mapping[int, SiteCosting] | None = None,
    ) -> None:
        self.client = client
        self.sink = sink
        self.sites = sites
        self.costing = dict(costing or {})
        self._priced_energy: dict[int, list[Any]] = {}
        self._unpriced: list[_Result] = []  # written windows whose costs are not yet
        self._unpriced_rows = 0
        self.options = options
        self.checkpoint = checkpoint
        self.stop = stop or threading.Event()
        self._progress_factory = progress or (lambda total: Progress(total))
        self._now = now
        self._summary = Summary()
        self._lock = threading.Lock()
        self._todo: queue.Queue[Window] = queue.Queue()
        self._results: queue.Queue[Any] = queue.Queue(maxsize=max(8, 4 * options.concurrency))
        self._metrics: AttributedMetrics | None = None
        self._started = time.monotonic()
        self._progress: Progress | None = None
        self._zone_check = ReplyZoneCheck()

    # --- driving ------------------------------------------------------------------------

    def run(self, windows: Sequence[Window]) -> Summary:
        """Fetch and write ``windows`` (in the given order); returns the run's summary."""
        self._started = time.monotonic()
        pending = self._skip_finished(windows)
        self._progress = self._progress_factory(len(pending))
        for win in pending:
            self._todo.put(win)
        with attributed(self.client) as metrics:
            self._metrics = metrics
            try:
                self._run_threads(len(pending))
            finally:
                self._fill_request_counts(metrics)
        self._summary.wall_seconds = time.monotonic() - self._started
        self._summary.interrupted = self.stop.is_set() and not self._summary.error
        self._progress.finish()
        if self.checkpoint is not None and self._summary.ok:
            self.checkpoint.forget(windows)
        return self._summary

    def _skip_finished(self, windows: Sequence[Window]) -> list[Window]:
        pending = []
        for win in windows:
            stats = self._summary.get(win.site_id, win.kind)
            stats.windows += 1
            if self.checkpoint is not None and self.checkpoint.is_done(win):
                stats.skipped += 1
            else:
                pending.append(win)
        return pending

    def _run_threads(self, count: int) -> None:
        workers = [threading.Thread(target=self._work, name=f"backfill-fetch-{i}", daemon=True)
                   for i in range(min(self.options.concurrency, max(count, 1)))]
        writer = threading.Thread(target=self._write_loop, name="backfill-write", daemon=True)
        writer.start()
        for worker in workers:
            worker.start()
        try:
            _join_all(workers)
        except KeyboardInterrupt:
            log.warning("interrupted: finishing the windows in flight, then stopping")
            self.stop.set()
            _join_all(workers)
        finally:
            self._results.put(_DONE)
            _join_all([writer])

    def _fatal(self, message: str, exc: BaseException | None = None) -> None:
        with self._lock:
            if not self._summary.error:
                self._summary.error = message
                self._summary.exception = exc
        self.stop.set()

    # --- fetching (worker threads) --------------------------------------------------------

    def _work(self) -> None:
        while not self.stop.is_set():
            try:
                win = self._todo.get_nowait()
            except queue.Empty:
                return
            try:
                result = self._fetch_window(win)
            except CollectorError as exc:
                log.error("backfill stopped", window=win.describe(), error=str(exc))
                self._fatal(str(exc), exc)
                return
            except Exception as exc:  # a bug in one window must not lose it silently
                log.exception("unexpected error in a window", window=win.describe())
                result = _Result(win, None, 0, error=f"{type(exc).__name__}: {exc}")
            if result is not None:
                self._results.put(result)

    def _fetch_window(self, win: Window) -> _Result | None:
        site = self.sites[win.site_id]
        self._mark_started(win)
        retries, last_error = 0, ""
        for attempt in range(self.options.window_attempts):
            if attempt:
                retries += 1
                if self.stop.wait(self.options.retry_delay_seconds * 2 ** (attempt - 1)):
                    return None
            try:
                with self._attribution(win):
                    reply = fetch(self.client, win, site.request_zone, site.fixed_offset)
                self._zone_check.check(site, reply)
                converted = convert(win, reply, site.zone, site.fixed_offset,
                                    self._expectations(win, site), self.costing.get(win.site_id))
                return _Result(win, converted, retries)
            except RetryAfterTooLong:
                raise  # the whole run stops: its line says when to try again
            except RETRYABLE as exc:
                last_error = str(exc)
                log.info("retrying window", window=win.describe(), attempt=attempt + 1,
                         error=last_error)
        return _Result(win, None, retries, error=last_error)

    def _expectations(self, win: Window, site: SiteContext) -> Expectations:
        """Plausible point times for the site, and whether the window is a past energy day
        after the installation day (which must hold buckets)."""
        now = self._now()
        past = win.kind == "energy" and win.last < site.today(lambda: now)
        after_install = site.installed is None or win.first > site.installed
        return Expectations(TimeBounds.around(now, site.installed), past and after_install)

    def _attribution(self, win: Window) -> Any:
        assert self._metrics is not None
        return self._metrics.attribute((win.site_id, win.kind))

    def _mark_started(self, win: Window) -> None:
        stats = self._summary.get(win.site_id, win.kind)
        with self._lock:
            if stats.started is None:
                stats.started = time.monotonic()

    # --- writing (the writer thread) --------------------------------------------------------

    def _write_loop(self) -> None:
        """Collect results into batches: a batch is written when it holds ``batch_points``
        points or its first result has waited ``flush_seconds`` (fewer, larger writes)."""
        batch: list[_Result] = []
        points, deadline = 0, 0.0
        while True:
            wait = max(0.0, deadline - time.monotonic()) if batch else None
            item = self._next_result(wait)
            if item is _DONE:
                self._flush(batch, final=True)
                return
            if item is not None:
                if not batch:
                    deadline = time.monotonic() + self.options.flush_seconds
                batch.append(item)
                points += item.converted.points if item.converted else 0
            if item is None or points >= self.options.batch_points:
                self._flush(batch)
                batch, points = [], 0

    def _next_result(self, timeout: float | None) -> Any:
        try:
            return self._results.get(timeout=timeout)
        except queue.Empty:
            return None

    def _flush(self, batch: list[_Result], final: bool = False) -> None:
        """Write a batch, then (only then) checkpoint and count it. After a fatal error the
        writer keeps draining the queue, so no worker blocks, but writes nothing more."""
        if self._summary.error or not (batch or (final and self._unpriced)):
            return
        written = [r for r in batch if r.converted is not None]
        try:
            complete = self._write(written, final)
            self._mark_checkpoint(complete)
        except Exception as exc:
            log.error("writing history failed; stopping", error=str(exc))
            self._fatal(f"writing history failed: {exc}",
                        exc if isinstance(exc, CollectorError) else None)
            return
        self._count(batch)
        if getattr(self.sink, "state", "") == "refused":  # spooled; fetching more cannot help
            self._fatal(self.sink.undelivered())

    def _write(self, written: list[_Result], final: bool) -> list[_Result]:
        """Write the batch's lines plus, every ``price_rows`` buckets (and at the end), the
        energy_cost lines of the windows waiting for them; returns the windows now complete
        (a window waiting for its costs is checkpointed only once they are written)."""
        lines = [line for r in written if r.converted for line in r.converted.lines]
        waiting = [r for r in written if self._priced_site(r)]
        complete = [r for r in written if not self._priced_site(r)]
        self._unpriced += waiting
        self._unpriced_rows += sum(len(r.converted.energy) for r in waiting)
        if self._unpriced and (final or self._unpriced_rows >= self.options.price_rows):
            lines += self._cost_lines(self._unpriced)
            complete += self._unpriced
            self._unpriced, self._unpriced_rows = [], 0
        if lines:
            self.sink.write(lines)
        return complete

    def _priced_site(self, result: _Result) -> bool:
        return (result.converted is not None and result.converted.energy is not None
                and result.window.site_id in self.costing)

    def _cost_lines(self, results: list[_Result]) -> list[str]:
        """The energy_cost lines of ``results``, per site (a failure costs only the costs)."""
        lines: list[str] = []
        for site_id, frames in self._energy_by_site(results).items():
            try:
                cost_lines, unpriced = self.costing[site_id].energy_lines(frames)
            except Exception:  # a bug in the cost must not stop the import
                log.exception("pricing failed; buckets imported without costs",
                              site_id=site_id)
                continue
            lines += cost_lines
            with self._lock:
                stats = self._summary.get(site_id, "energy")
                stats.priced += len(cost_lines)
                stats.unpriced += unpriced
                self._priced_energy.setdefault(site_id, []).extend(frames)
        return lines

    def _energy_by_site(self, written: list[_Result]) -> dict[int, list[Any]]:
        """The cost inputs of the batch's energy windows, per priced site."""
        out: dict[int, list[Any]] = {}
        for result in written:
            energy = result.converted.energy if result.converted else None
            if energy is not None and result.window.site_id in self.costing:
                out.setdefault(result.window.site_id, []).append(energy)
        return out

    def priced_energy(self, site_id: int) -> list[Any]:
        """The cost inputs of every bucket this run wrote and priced for ``site_id``."""
        with self._lock:
            return list(self._priced_energy.get(site_id, []))

    def _mark_checkpoint(self, written: list[_Result]) -> None:
        if self.checkpoint is None:
            return
        finals = [r.window for r in written
                  if is_final(r.window, self.sites[r.window.site_id].today(self._now))]
        self.checkpoint.mark(finals)

    def _count(self, batch: list[_Result]) -> None:
        with self._lock:
            for result in batch:
                self._count_one(result)
            done = sum(s.done for s in self._summary.stats.values())
            failed = sum(s.failed for s in self._summary.stats.values())
        if self._progress is not None:
            self._progress.update(done, failed)

    def _count_one(self, result: _Result) -> None:
        stats = self._summary.get(result.window.site_id, result.window.kind)
        stats.retries += result.retries
        stats.finished = max(stats.finished or 0.0, result.finished_at)
        if result.converted is None:
            stats.failed += 1
            stats.failures.append(f"{result.window.describe()}: {result.error}")
            return
        stats.done += 1
        stats.days += result.window.days
        stats.buckets += result.converted.buckets
        stats.events += result.converted.events
        stats.sessions += result.converted.sessions
        stats.dropped += result.converted.dropped

    def _fill_request_counts(self, metrics: AttributedMetrics) -> None:
        for key, count in metrics.requests.items():
            stats = self._summary.get(*key)
            stats.requests += count
            stats.retries += metrics.retries.get(key, 0)


def _join_all(threads: list[threading.Thread]) -> None:
    """Join threads in short slices so Ctrl-C reaches the main thread."""
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.2)
