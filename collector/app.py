"""Assembly of the daemon: client, sink, sites, collector, scheduler, health, signals.

Used by ``tesla-energy run`` and ``tesla-energy demo``. Wiring only: the work is done by
``source``, ``transform``, ``sink``, ``jobs`` and ``backfill``.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from collector import budget
from collector.config import Settings
from collector.errors import CollectorError, RateLimited, TransientError
from collector.health import Health, HealthServer
from collector.jobs import Collector, Daemon, Site, requests_per_day
from collector.log import get_logger
from collector.sink import BackgroundWriter, open_sink
from collector.source import FleetClient, RateLimiter, build_client

log = get_logger(__name__)

DAEMON_MAX_RETRY_WAIT = 5.0  # longer Retry-After: postpone the job instead of blocking


def discover_sites(client: FleetClient, settings: Settings, history: Any = None) -> list[Site]:
    """This replica's shard (``COLLECTOR_SHARD``) of the configured site ids or of every
    energy site from ``products``, each made ready by ``new_site``."""
    names = visible_sites(client, settings)
    return [new_site(client, settings, site_id, names[site_id], history)
            for site_id in settings.collector.shard.select(names)]


def new_site(client: FleetClient, settings: Settings, site_id: int, name: str,
             history: Any = None) -> Site:
    """A site to collect. Its name and time zone come from ``site_info`` through the one zone
    chain (``collector.backfill.resolve_site``: configuration, site_info, history reply, its
    offset); the resolved context is handed to ``history`` so the history job does not
    resolve it again. A site whose site_info or zone is unavailable keeps its defaults and is
    resolved by its first history job."""
    from collector.backfill import resolve_site

    site = Site(site_id, name or str(site_id))
    try:
        context = resolve_site(client, site_id, settings.tesla.time_zone)
    except CollectorError as exc:
        log.warning("site_info or time zone unavailable; using defaults",
                    site_id=site_id, error=str(exc))
    else:
        site.name = context.site_name or site.name
        site.time_zone = context.zone_name
        site.installed = context.installed
        if history is not None:
            history.remember(context)
    return site


def site_discovery(client: FleetClient, settings: Settings,
                   history: Any) -> Callable[[Sequence[Site]], list[Site] | None]:
    """For the daemon's ``discover`` job: given the sites collected now, the shard's sites
    that ``products`` lists now (kept ones unchanged, new ones made by ``new_site``), or None
    when the site ids are configured (nothing to discover)."""
    def discover(current: Sequence[Site]) -> list[Site] | None:
        if settings.tesla.site_ids:
            return None
        names = visible_sites(client, settings)
        known = {site.site_id: site for site in current}
        return [known.get(site_id) or new_site(client, settings, site_id, names[site_id],
                                               history)
                for site_id in settings.collector.shard.select(names)]

    return discover


def visible_sites(client: FleetClient, settings: Settings) -> dict[int, str]:
    """Every site id the configuration names or ``products`` lists (all shards), with its
    name from ``products`` ("" when configured)."""
    if settings.tesla.site_ids:
        return dict.fromkeys(settings.tesla.site_ids, "")
    return {int(p["energy_site_id"]): str(p.get("site_name") or "")
            for p in client.products()}


def wait_for_sites(client: FleetClient, settings: Settings,
                   sleep: Callable[[float], None] = time.sleep,
                   max_delay: float = 60.0, history: Any = None) -> list[Site]:
    """``discover_sites``, retried with backoff while the API is unreachable or failing
    (a daemon started before the network or the simulator is up); auth errors still stop."""
    delay = 2.0
    while True:
        try:
            return discover_sites(client, settings, history)
        except (TransientError, RateLimited) as exc:
            wait = max(delay, getattr(exc, "retry_after", 0.0))
            log.warning("Fleet API not available at start; retrying", error=str(exc),
                        retry_in_s=round(wait))
            sleep(wait)
            delay = min(max_delay, delay * 2)


def make_history(client: FleetClient, sink: Any, settings: Settings,
                 clock: Callable[[], float]) -> Any:
    from collector.backfill import RecentHistory

    limited = client.with_limiter(RateLimiter(settings.backfill.requests_per_second))
    return RecentHistory(limited, sink, settings,
                         now=lambda: datetime.fromtimestamp(clock(), UTC))


def build(settings: Settings, *, dry_run: bool = False, client: FleetClient | None = None,
          sites: Sequence[Site] | None = None, clock: Callable[[], float] = time.time,
          wait_for_api: bool = False, one_shot: bool = False) -> Daemon:
    """A ready-to-schedule daemon for ``settings`` (``clock``: the wall clock, injectable so
    tests and benchmarks can run against a simulator living at another time;
    ``wait_for_api``: keep retrying site discovery instead of failing, for the daemon;
    ``one_shot``: for ``run --once``, whose requests keep the one-shot retry limits)."""
    client = client or build_client(settings)
    if not one_shot:
        # Jobs retry on their next run: a long Retry-After postpones the job, an unreachable
        # API is retried for as long as it takes.
        client.max_retry_wait = DAEMON_MAX_RETRY_WAIT
        client.retry_window = None
    sink = open_sink(settings, dry_run=dry_run)
    history = make_history(client, sink, settings, clock)
    if sites is None:
        discover = wait_for_sites if wait_for_api else discover_sites
        sites = discover(client, settings, history=history)
    shard = settings.collector.shard
    if not sites and not shard.sharded:
        raise CollectorError("the token sees no energy site; nothing to collect")
    settings = within_budget(settings, len(sites))
    collector = Collector(client, sink, settings, history=history, clock=clock)
    health = Health(settings.collector.state_dir, 3 * settings.intervals.live_seconds)
    health.sink_state = sink.health
    health.budget_state = collector.bill.state
    if collector.bill.limit is not None and not dry_run:
        collector.bill.seed(stored_billable(sink, clock()))
    health.live_polls = lambda: collector.cadence.counts().as_dict()
    daemon = Daemon(collector, sites, settings, health, gap_fill=None if dry_run else
                    history.fill_gaps, discover=site_discovery(client, settings, history))
    projection = budget.bill(len(sites), settings)
    log.info("collecting", sites=[s.site_id for s in sites], shard=shard.label,
             fleet_requests_per_day=requests_per_day(len(sites), settings),
             fleet_monthly_cost_usd=round(projection.gross(), 2),
             fleet_monthly_cost_after_credit_usd=round(projection.after_credit(), 2))
    return daemon


def stored_billable(sink: Any, now: float) -> int:
    """This UTC month's billable requests stored in ``collector`` points (earlier runs), 0
    when InfluxDB cannot tell."""
    start = datetime.fromtimestamp(now, UTC).replace(day=1, hour=0, minute=0, second=0,
                                                     microsecond=0)
    try:
        rows = sink.query_influxql(f'SELECT sum("billable") FROM "collector" WHERE '
                                   f"time >= {int(start.timestamp())}s")
    except CollectorError as exc:
        log.warning("cannot read this month's billable requests; counting from 0",
                    error=str(exc))
        return 0
    return int(rows[0].get("sum") or 0) if rows else 0


def within_budget(settings: Settings, site_count: int) -> Settings:
    """``settings`` with the intervals of the ``COLLECTOR_API_BUDGET`` plan (logged once when
    they differ from the configured ones)."""
    planned = budget.plan(site_count, settings)
    if planned == settings.intervals:
        return settings
    log.warning("intervals stretched to stay within COLLECTOR_API_BUDGET",
                budget_usd=settings.api.budget, live_seconds=planned.live_seconds,
                site_info_seconds=planned.site_info_seconds,
                history_seconds=planned.history_seconds,
                configured_cost_after_credit_usd=round(
                    budget.bill(site_count, settings).after_credit(), 2))
    return dataclasses.replace(settings, intervals=planned)


def run_once(daemon: Daemon) -> int:
    """Every job once, in order, for every site; returns points written. Raises
    ``PointsKept`` when points stayed in the spool (InfluxDB refused or unreachable), and
    ``CollectorError`` when a site failed (a skipped sample, a past day without buckets...)
    or InfluxDB refused points as invalid: the cycle did not collect what it should have.
    A request still rate limited after its retries (or told to wait longer than the limit)
    ends the cycle at once with ``RateLimited``: its line says when to try again."""
    collector, written = daemon.collector, 0
    rejected_before = getattr(collector.sink, "dead_letters", 0)
    for group in daemon.groups():
        for job in (collector.snapshot_site_info, collector.poll_live, collector.refresh_history):
            # A job whose every site failed raises; the sites are recorded and reported below.
            try:
                written += job(group)
            except RateLimited:
                raise
            except CollectorError:
                pass
    written += collector.write_metrics()
    collector.sink.ensure_delivered()  # points left in the spool: say so, exit 1
    failing = collector.tracker.failing
    if failing:
        raise CollectorError("; ".join(f"{k}: {v}" for k, v in sorted(failing.items())))
    rejected = getattr(collector.sink, "dead_letters", 0) - rejected_before
    if rejected:
        raise CollectorError(f"InfluxDB refused {rejected} point(s) as invalid; they are kept in "
                             f"{collector.sink.dead_letter_path} with InfluxDB's reason")
    return written


def run_forever(daemon: Daemon, settings: Settings) -> int:
    """Run until SIGTERM/SIGINT; exit code 0 on a clean stop, 1 after a fatal error."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    server = None
    if settings.collector.health_port:
        server = HealthServer(settings.collector.health_port, daemon.health,
                              lambda: metrics_text(daemon),
                              host=settings.collector.health_address).start()
    writer = write_in_background(daemon, settings)
    daemon.schedule()
    try:
        daemon.run_until_stopped(stop)
    finally:
        writer.close()  # what is still queued goes to the spool
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if server:
            server.stop()
    if daemon.fatal:
        raise daemon.fatal
    log.info("stopped")
    return 0


def write_in_background(daemon: Daemon, settings: Settings) -> BackgroundWriter:
    """Give the daemon's jobs a ``BackgroundWriter``: polls never wait on InfluxDB."""
    writer = BackgroundWriter.for_settings(daemon.collector.sink, settings).start()
    daemon.collector.writer = writer
    daemon.health.sink_state = writer.health
    return writer


def sink_metric_lines(sink: Any, writer: Any) -> list[str]:
    """The sink's state as Prometheus lines: one ``influxdb_state`` gauge per state (1 for the
    current one), dead letters, points waiting in the writer's queue."""
    state = getattr(sink, "state", "unknown")
    lines = [f'tesla_energy_influxdb_state{{state="{name}"}} {int(state == name)}'
             for name in ("unknown", "up", "down", "refused")]
    lines.append(f"tesla_energy_dead_letters_total {getattr(sink, 'dead_letters', 0)}")
    lines.append(f"tesla_energy_write_queue_points {getattr(writer, 'queued_points', 0)}")
    return lines


def metrics_text(daemon: Daemon) -> str:
    """Prometheus text for ``/metrics``."""
    collector = daemon.collector
    lines = []
    for endpoint, stats in sorted(collector.client.metrics.totals().items()):
        for name in ("requests", "errors", "rate_limited", "retries", "billable"):
            lines.append(f'tesla_energy_api_{name}_total{{endpoint="{endpoint}"}} '
                         f"{getattr(stats, name)}")
    price = daemon.settings.api.price_data
    lines.append(f"tesla_energy_api_billable_month {collector.bill.requests}")
    lines.append(f"tesla_energy_api_cost_month_usd {collector.bill.cost(price):.4f}")
    if collector.bill.limit is not None:
        lines.append(f"tesla_energy_api_budget_requests_month {collector.bill.limit}")
    lines.append(f"tesla_energy_api_budget_paused {int(collector.bill.paused())}")
    lines.append(f"tesla_energy_points_written_total {collector.sink.points_written}")
    lines.append(f"tesla_energy_spool_points {collector.sink.spool_points}")
    lines.extend(sink_metric_lines(collector.sink, collector.writer))
    last = daemon.health.last_write or 0
    lines.append(f"tesla_energy_last_write_timestamp_seconds {last:.0f}")
    lines.append(f"tesla_energy_failing_jobs {len(collector.tracker.failing)}")
    for name, count in collector.cadence.counts().as_dict().items():
        lines.append(f"tesla_energy_live_polls_{name}_total {count}")
    return "\n".join(lines) + "\n"
