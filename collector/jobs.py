"""The collector daemon (``tesla-energy run``): scheduled jobs driving source -> transform -> sink.

Jobs, one per cadence and site group (APScheduler 3.x, UTC, coalesce, one instance at a time,
a real misfire grace time). The groups of a cadence are spread evenly over its first round
(group ``k`` of ``n`` starts ``k/n`` of the live interval after start, the first one at once)
and keep that phase: no jitter, which APScheduler adds to the previous run time, so it would
stretch every period (30 s became 31.5 s on average, 5 % of the polls lost). Live polls run on
their own thread pool, sized for the fleet (``live_threads``). Every expected live poll is
accounted for (``collector.cadence``: expected, completed, missed).

- ``live``: ``live_status`` of each site -> ``live_status`` + ``wall_connector`` points; a
  sample with the same response timestamp as the last one written is not written again.
- ``site_info``: settings snapshot -> ``site_info`` points, plus a ``tariff_version`` point
  whenever the site's tariff differs from the last stored snapshot.
- ``history``: today's and yesterday's energy buckets (Tesla revises them), recent backup
  events and charge sessions, through the backfill machinery.
- ``metrics``: request counters -> ``collector`` points, once a minute.
- ``gapfill``: at start and after an outage of the API or of InfluxDB, the backfill fetches the
  history days that are missing or incomplete since the last stored point; at most once per
  history interval per site, however often a flapping endpoint recovers.

One failing site or job never stops the others; failures are logged when a job starts failing
and when it recovers, not on every tick. A 429 pushes that job's next run back by
``Retry-After``. A job that completes no cycle within a few intervals (hung) makes health
fail. An authentication failure stops the daemon with a clear message. Shutdown cancels every
wait between API attempts. This module holds no HTTP or InfluxDB code of its own.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from collector import transform
from collector.budget import MonthToDate, request_cap
from collector.cadence import Cadence
from collector.config import Settings
from collector.cost.store import TariffRecorder
from collector.errors import (
    AuthRequired,
    BudgetExhausted,
    CollectorError,
    InvalidResponse,
    RateLimited,
)
from collector.health import Health
from collector.log import get_logger
from collector.settings_watch import FIELD as SETTINGS_FIELD
from collector.settings_watch import SettingsWatch, window_for
from collector.transform.metrics import bill_frame

log = get_logger(__name__)

GROUP_SIZE = 8  # sites per live/site_info/history job
MAX_LIVE_THREADS = 128
#: Seconds of Fleet API latency per live request the live thread pool is sized for: with
#: ``sites`` sites at ``interval`` s, ``sites * LIVE_LATENCY_ALLOWANCE / interval`` polls are in
#: flight at once when every answer takes that long.
LIVE_LATENCY_ALLOWANCE = 1.5
METRICS_INTERVAL = 60.0
MISFIRE_GRACE = 30
ENDPOINT_JOBS = {
    "live_status": "live",
    "site_info": "site_info",
    "calendar_history": "history",
    "telemetry_history": "history",
    "products": "startup",
}


@dataclass
class Site:
    """An energy site the daemon collects: id, display name (a tag) and the zone resolved by
    the one zone chain (``collector.backfill.resolve_site``; ``""`` until resolved)."""

    site_id: int
    name: str
    time_zone: str = ""
    #: Local installation date (plausible point times start the day before); None = unknown.
    installed: date | None = None


@dataclass
class FailureTracker:
    """Logs a job/site when it starts failing and when it recovers, not on every tick."""

    failing: dict[str, str] = field(default_factory=dict)
    recovered_hook: Callable[[str], None] | None = None

    def ok(self, key: str) -> None:
        if self.failing.pop(key, None) is not None:
            log.info("recovered", key=key)
            if self.recovered_hook:
                self.recovered_hook(key)

    def failed(self, key: str, exc: BaseException) -> None:
        message = str(exc) or type(exc).__name__
        if key not in self.failing:
            log.warning("failing", key=key, error=message, error_type=type(exc).__name__)
        self.failing[key] = message


def live_threads(site_count: int, interval: float) -> int:
    """Threads for the live jobs: enough for every group to finish within the interval when
    each request takes ``LIVE_LATENCY_ALLOWANCE`` s (never more than there are groups)."""
    groups = math.ceil(site_count / GROUP_SIZE)
    needed = math.ceil(site_count * LIVE_LATENCY_ALLOWANCE / max(interval, 1.0))
    return max(2, min(MAX_LIVE_THREADS, groups, max(needed, 4)))


def requests_per_day(site_count: int, settings: Settings) -> int:
    """Fleet API requests per day the configured intervals make (the budget estimate)."""
    from collector.budget import requests_per_day as per_endpoint

    return round(sum(per_endpoint(site_count, settings.intervals).values()))


def usable(frame: Any, endpoint: str, site: Site) -> Any:
    """``frame``, or ``InvalidResponse`` when the transform skipped the reply's only record
    as malformed or implausible (it logged why): the site then counts as failing."""
    if frame.skipped and frame.empty:
        raise skipped_error(endpoint, site, frame.skip_reason)
    return frame


def skipped_error(endpoint: str, site: Site, reason: str) -> InvalidResponse:
    return InvalidResponse(f"{endpoint} of site {site.site_id} was skipped: {reason}",
                           endpoint=endpoint)


class Collector:
    """One cycle of each kind of collection, for a group of sites. No scheduling here."""

    def __init__(self, client: Any, sink: Any, settings: Settings, *,
                 history: Any = None, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.sink = sink
        self.settings = settings
        self.history = history
        self.clock = clock
        self.tracker = FailureTracker()
        self.tariffs = TariffRecorder(sink)
        self.settings_watch = SettingsWatch(sink, window_for(settings.intervals.site_info_seconds))
        self.bill = MonthToDate(request_cap(settings), clock)
        for fleet in (client, getattr(history, "client", None)):
            if fleet is not None and hasattr(fleet, "gate"):
                fleet.gate = self.bill  # counts every request sent, stops at the cap
        if getattr(client, "gate", None) is self.bill:  # requests made before (discovery)
            self.bill.add(sum(s.billable for s in client.metrics.totals().values()),
                          self._now())
        self.writer: Any = sink  # the daemon swaps in a BackgroundWriter (writes off the poll)
        self.cadence = Cadence(settings.intervals.live_seconds)  # the daemon registers sites
        self._last_live: dict[int, str] = {}
        self._lock = threading.Lock()

    def _each_site(self, job: str, sites: Sequence[Site],
                   fetch: Callable[[Site], list[Any]]) -> list[Any]:
        """Run ``fetch`` for every site, isolating failures; return all frames. Raises when
        every site failed, so the job itself counts as failing (health, gap fill)."""
        frames: list[Any] = []
        failures: list[BaseException] = []
        for site in sites:
            key = f"{job}:{site.site_id}"
            try:
                frames.extend(fetch(site))
            except (AuthRequired, RateLimited, BudgetExhausted):
                raise
            except CollectorError as exc:
                self.tracker.failed(key, exc)
                failures.append(exc)
            except Exception as exc:  # a bug must not stop the other sites
                log.exception("unexpected error", key=key)
                self.tracker.failed(key, exc)
                failures.append(exc)
            else:
                self.tracker.ok(key)
        if sites and len(failures) == len(sites):
            raise CollectorError(f"{job}: every site failed; last error: {failures[-1]}")
        return frames

    def poll_live(self, sites: Sequence[Site]) -> int:
        if self.bill.paused():
            return 0  # COLLECTOR_API_BUDGET reached: nothing billable until next month
        frames = self._each_site("live", sites, self._live_frames)
        return self._write(frames)

    def _live_frames(self, site: Site) -> list[Any]:
        response = self.client.live_status(site.site_id)
        stamp = str(response.get("timestamp"))
        with self._lock:
            if self._last_live.get(site.site_id) == stamp:
                self.cadence.completed(site.site_id)
                return []  # the API served the same sample again
        bounds = transform.TimeBounds.around(self._now(), site.installed)
        # Rows straight to lines: a live poll is one or a few points, pandas would cost more.
        rows = transform.live_status_rows(response, site.site_id, site.name, bounds)
        if rows.live_skipped and not rows.live:
            raise skipped_error("live_status", site, rows.live_reason)
        with self._lock:
            self._last_live[site.site_id] = stamp
        self.cadence.completed(site.site_id)
        return transform.live_status_lines(rows)

    def snapshot_site_info(self, sites: Sequence[Site]) -> int:
        if self.bill.paused():
            return 0

        def fetch(site: Site) -> list[Any]:
            info = self.client.site_info(site.site_id)
            site.name = str(info.get("site_name") or site.name)
            # The zone is the one resolved by the zone chain (at start or by the history job);
            # site_info's own installation_time_zone is only one of its sources.
            now = self._now()
            frame = transform.site_info_frame(
                info, site.site_id, site.name, now, site.time_zone,
                derived=lambda values: {SETTINGS_FIELD: self.settings_watch.check(
                    site.site_id, values, now.timestamp())})
            frames = [usable(frame, "site_info", site)]
            tariff = self.tariffs.frame(site.site_id, info, now)
            return frames if tariff is None else [*frames, tariff]

        return self._write(self._each_site("site_info", sites, fetch))

    def refresh_history(self, sites: Sequence[Site]) -> int:
        if self.history is None or self.bill.paused():
            return 0

        def fetch(site: Site) -> list[Any]:
            self.history.refresh_recent(site.site_id)
            context = self.history.site(site.site_id)
            site.time_zone, site.installed = context.zone_name, context.installed
            return []

        self._each_site("history", sites, fetch)
        return 0

    def write_metrics(self) -> int:
        window = self.client.metrics.take_window()
        by_job: dict[str, dict[str, Any]] = {}
        for endpoint, stats in window.items():
            by_job.setdefault(ENDPOINT_JOBS.get(endpoint, "other"), {})[endpoint] = stats
        now = self._now()
        frames = [transform.collector_frame(stats, job, now) for job, stats in by_job.items()]
        billable = sum(s.billable for s in window.values())
        gated = getattr(self.client, "gate", None) is self.bill  # counted as they were sent
        month = self.bill.add(0 if gated else billable, now)
        frames.append(bill_frame(month, self.bill.cost(self.settings.api.price_data), now))
        frames.append(transform.collector_frame(
            {}, "sink", now, points_written=self.sink.points_written,
            spool_points=getattr(self.sink, "spool_points", 0)))
        return self._write(frames)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _write(self, frames: Iterable[Any]) -> int:
        frames = [f for f in frames if f is not None and len(f)]
        if not frames:
            return 0
        return self.writer.write(frames).written


class Daemon:
    """Schedules the ``Collector``'s jobs and owns their lifecycle (start, stop, reschedule)."""

    def __init__(self, collector: Collector, sites: Sequence[Site], settings: Settings,
                 health: Health, *, gap_fill: Callable[[Sequence[Site]], Any] | None = None,
                 discover: Callable[[Sequence[Site]], list[Site] | None] | None = None,
                 workers: int = 4, clock: Callable[[], float] = time.monotonic) -> None:
        self.collector = collector
        self.sites = list(sites)
        self.settings = settings
        self.health = health
        self.gap_fill = gap_fill
        self.discover = discover
        self._scheduled_groups = 0
        self.fatal: BaseException | None = None
        self.stopped = threading.Event()
        # Live polls get their own threads (one per site group) so a slow history or gap-fill
        # job, paced by the backfill budget, can never hold a live poll back.
        threads = live_threads(len(self.sites), settings.intervals.live_seconds)
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max(2, workers)),
                       "live": ThreadPoolExecutor(threads)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": MISFIRE_GRACE},
        )
        collector.tracker.recovered_hook = self._on_recovery
        self._sink_was_down = False
        self._stopping = False
        self._clock = clock
        self._fill_lock = threading.Lock()
        self._fill_pending: set[int] = set()  # site ids waiting for a gap fill
        self._last_fill: dict[int, float] = {}  # site id -> when its last gap fill started

    def groups(self) -> list[list[Site]]:
        return [self.sites[i:i + GROUP_SIZE] for i in range(0, len(self.sites), GROUP_SIZE)]

    def schedule(self) -> None:
        self._schedule_sites()
        self._add("metrics", METRICS_INTERVAL, self._guarded("metrics", self._metrics), None)
        if self.discover:
            seconds = self.settings.intervals.site_info_seconds
            self._add("discover", seconds, self._guarded("discover", self._discover), None)
        if self.gap_fill:
            self.request_gap_fill("start")

    def _schedule_sites(self) -> None:
        """One job per cadence and site group, the groups' first runs spread over the first
        live interval (``phase``); jobs of groups that no longer exist (sites removed) are
        removed. The live cadence starts expecting the sites' polls."""
        intervals = self.settings.intervals
        cadences = (
            ("live", intervals.live_seconds, self.collector.poll_live),
            ("site_info", intervals.site_info_seconds, self.collector.snapshot_site_info),
            ("history", intervals.history_seconds, self.collector.refresh_history),
        )
        now, groups = datetime.now(UTC), self.groups()
        for name, seconds, work in cadences:
            for index, group in enumerate(groups):
                job_id = f"{name}:{index}"
                offset = self.phase(index, len(groups))
                if name == "live":
                    self.collector.cadence.expect([s.site_id for s in group], offset)
                self._add(job_id, seconds, self._guarded(job_id, work, group),
                          now + timedelta(seconds=offset),
                          executor="live" if name == "live" else "default")
            for index in range(len(groups), self._scheduled_groups):
                with contextlib.suppress(JobLookupError):
                    self.scheduler.remove_job(f"{name}:{index}")
                self.health.forget(f"{name}:{index}")
        self._scheduled_groups = len(groups)

    def phase(self, index: int, count: int) -> float:
        """Seconds after start of group ``index``'s first run: the groups evenly spread over
        one live interval, so the polls are too (no burst of every site at once)."""
        return self.settings.intervals.live_seconds * index / max(count, 1)

    def _discover(self) -> int:
        """Follow sites added to or removed from the account (within this shard)."""
        assert self.discover is not None
        found = self.discover(self.sites)
        if found is None:
            return 0
        before, after = {s.site_id for s in self.sites}, {s.site_id for s in found}
        added, removed = sorted(after - before), sorted(before - after)
        if not added and not removed:
            return 0
        log.info("sites changed", added=added, removed=removed,
                 shard=self.settings.collector.shard.label, sites=len(found))
        for key in [k for k in self.collector.tracker.failing
                    if k.rpartition(":")[2] in {str(r) for r in removed}]:
            self.collector.tracker.failing.pop(key, None)  # a removed site is not failing
        self.sites = list(found)
        self.collector.cadence.forget(removed)
        if not self._stopping:
            self._schedule_sites()
        if added:
            self.request_gap_fill("sites added")
        return 0

    def _add(self, job_id: str, seconds: float, func: Callable[[], None],
             first: datetime | None, executor: str = "default") -> None:
        self.health.expect(job_id, seconds)  # no jitter: the phase is fixed
        self.scheduler.add_job(
            func, IntervalTrigger(seconds=seconds), id=job_id, name=job_id,
            executor=executor, misfire_grace_time=max(MISFIRE_GRACE, int(seconds)),
            replace_existing=True, next_run_time=first or datetime.now(UTC) + timedelta(
                seconds=seconds),
        )

    def _guarded(self, job_id: str, work: Callable[..., int], *args: Any) -> Callable[[], None]:
        def run() -> None:
            if self._stopping:
                return  # queued before the shutdown: the clients are closing, do not start
            try:
                work(*args)
                self._after_cycle()
                self.health.job_done(job_id, True)
            except BudgetExhausted:  # said once by the budget; jobs resume next month
                self.health.job_done(job_id, True)
            except RateLimited as exc:
                self._postpone(job_id, exc.retry_after)
                self.health.job_done(job_id, False, "rate limited")
            except AuthRequired as exc:
                self.fatal = exc
                log.error("authentication failed; stopping", error=str(exc))
                self.stopped.set()
            except Exception as exc:
                self.collector.tracker.failed(job_id, exc)
                # The reason, for /healthz and the heartbeat: product errors carry no secrets.
                self.health.job_done(job_id, False, str(exc) if isinstance(exc, CollectorError)
                                     else type(exc).__name__)
            else:
                self.collector.tracker.ok(job_id)

        return run

    def _metrics(self) -> int:
        return self.collector.write_metrics()

    def _after_cycle(self) -> None:
        writer = self.collector.writer
        down = bool(getattr(writer, "spooling", False))
        if not down:  # a clean cycle, even when the API served the same sample again
            self.health.wrote()
        elif getattr(writer, "failing", False):
            self.health.save()  # the heartbeat file says why: InfluxDB down or refusing
        if self._sink_was_down and not down:
            self.request_gap_fill("influxdb recovered")
        self._sink_was_down = down

    def _postpone(self, job_id: str, seconds: float) -> None:
        if self._stopping:
            return
        when = datetime.now(UTC) + timedelta(seconds=seconds)
        log.warning("rate limited; postponing job", job=job_id, retry_after_s=round(seconds))
        self.health.postponed(job_id, seconds)
        with contextlib.suppress(JobLookupError):
            self.scheduler.modify_job(job_id, next_run_time=when)

    def _on_recovery(self, key: str) -> None:
        if key.startswith(("live", "history")):
            site = key.rpartition(":")[2]
            only = [s for s in self.sites if str(s.site_id) == site]
            self.request_gap_fill(f"{key} recovered", only or None)

    def request_gap_fill(self, reason: str, sites: Sequence[Site] | None = None) -> None:
        """Fill the gaps of ``sites`` (default: all) soon: one gap fill at a time, at most one
        per history interval per site (later requests wait for the interval to pass)."""
        # A job adding a job while the scheduler shuts down would deadlock APScheduler (its
        # shutdown holds the job-store lock while it waits for the running jobs).
        if not self.gap_fill or self._stopping:
            return
        with self._fill_lock:
            wanted = {s.site_id for s in (sites or self.sites)}
            new = wanted - self._fill_pending
            self._fill_pending |= wanted
        if new:  # once per site and fill, not on every recovery of a flapping endpoint
            log.info("gap fill requested", reason=reason, sites=sorted(new))
        self._schedule_gap_fill()

    def _schedule_gap_fill(self) -> None:
        with self._fill_lock:
            if not self._fill_pending:
                return
            wait = max(1.0, min(self._fill_allowed_in(s) for s in self._fill_pending))
        self.scheduler.add_job(
            self._guarded("gapfill", self._gap_fill), id="gapfill", name="gapfill",
            replace_existing=True, misfire_grace_time=None,
            next_run_time=datetime.now(UTC) + timedelta(seconds=wait),
        )

    def _fill_allowed_in(self, site_id: int) -> float:
        """Seconds until ``site_id`` may be gap-filled again (caller holds the lock)."""
        last = self._last_fill.get(site_id)
        if last is None:
            return 0.0
        return last + self.settings.intervals.history_seconds - self._clock()

    def _gap_fill(self) -> int:
        assert self.gap_fill is not None
        if self.collector.bill.paused():
            return 0  # the month's budget is spent; the next recovery or start fills the gap
        with self._fill_lock:
            due = {s for s in self._fill_pending if self._fill_allowed_in(s) <= 0}
            self._fill_pending -= due
            now = self._clock()
            self._last_fill.update(dict.fromkeys(due, now))
        try:
            sites = [s for s in self.sites if s.site_id in due]
            if sites:
                self.gap_fill(sites)
        finally:
            if not self._stopping:
                self._schedule_gap_fill()  # sites still waiting for their interval
        return 0

    def run_until_stopped(self, stop: threading.Event | None = None) -> None:
        """Start, block until ``stop`` (or a fatal error), then shut down promptly."""
        stop = stop or self.stopped
        self.scheduler.start()
        try:
            while not stop.wait(0.5) and not self.stopped.is_set():
                pass
        finally:
            self.shutdown()

    def close(self) -> None:
        """Release the sink (its spool lock) and the API client."""
        self.collector.sink.close()
        self.collector.client.close()
        history_client = getattr(self.collector.history, "client", None)
        if history_client is not None:
            history_client.close()

    def shutdown(self, timeout: float = 8.0) -> None:
        """Stop scheduling, let running jobs finish (at most ``timeout`` s), save health."""
        self._stopping = True
        cancel = getattr(self.collector.client, "cancel", None)
        if cancel is not None:
            cancel()  # backoff and Retry-After waits end now (sibling clients too)
        close_history = getattr(self.collector.history, "close", None)
        if close_history is not None:
            close_history()  # budget-paced history work gives up at once
        if self.scheduler.running:
            closer = threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": True},
                                      daemon=True)
            closer.start()
            closer.join(timeout)
        self.health.save()
