"""Backfill entry points: the CLI import, ``--missing``, the daemon's gap fill and recent refresh.

Each entry point resolves its sites (zone and installation date), turns a date scope into
windows, and hands them to the ``Runner``. Date scopes are *local* dates in each site's zone,
``end`` inclusive, capped at the site's today; the default start is the installation date.
In ``missing`` mode the energy windows are only the days InfluxDB lacks or holds incompletely,
plus today and yesterday (Tesla revises them); backup and charge windows are kept when they
overlap such a day. Every run prices its energy buckets and settles charges and session costs
(``collector.cost``). This module holds no HTTP or InfluxDB code of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from collector.backfill.checkpoint import Checkpoint
from collector.backfill.coverage import incomplete_days, last_stored_day
from collector.backfill.progress import Progress
from collector.backfill.runner import Runner, RunOptions
from collector.backfill.site import Clock, SiteContext, resolve_site, utc_now
from collector.backfill.stats import Summary
from collector.backfill.windows import KINDS, Window, newest_first, plan_days, plan_kind
from collector.cost.service import SiteCosting, costing_for, settle_quietly
from collector.cost.store import TariffRecorder
from collector.errors import UsageError
from collector.log import get_logger
from collector.site_health.service import update_quietly
from collector.tariff import site_tariff_content
from collector.transform import site_info_frame

log = get_logger(__name__)

DEFAULT_GAP_DAYS = 7


@dataclass(frozen=True)
class Scope:
    """What to import: local dates (None = installation date / today), kinds, missing-only."""

    start: date | None = None
    end: date | None = None
    kinds: tuple[str, ...] = KINDS
    missing: bool = False


def site_range(site: SiteContext, scope: Scope, today: date) -> tuple[date, date] | None:
    """The local days first..last to import for ``site`` (None when the range is empty)."""
    first = scope.start or site.installed
    if first is None:
        raise UsageError(f"site {site.site_id}: site_info has no installation_date; pass --start "
                         "YYYY-MM-DD")
    requested = first
    if site.installed and first < site.installed:
        first = site.installed
    last = min(scope.end or today, today)
    if first > last:
        return None
    if first != requested:
        log.info("start moved to the installation date", site_id=site.site_id,
                 requested=str(requested), installed=str(site.installed))
    return first, last


def recent_days(today: date, first: date, last: date) -> set[date]:
    """Today and yesterday, when inside first..last: always refreshed."""
    return {d for d in (today, today - timedelta(days=1)) if first <= d <= last}


def plan_site(site: SiteContext, scope: Scope, today: date,
              missing: set[date] | None = None) -> list[Window]:
    """Windows for one site: every window of the range, or only those touching ``missing``."""
    span = site_range(site, scope, today)
    if span is None:
        return []
    first, last = span
    windows: list[Window] = []
    for kind in scope.kinds:
        if missing is not None and kind == "energy":
            windows += plan_days(site.site_id, missing, site.zone)
            continue
        planned = plan_kind(site.site_id, kind, first, last, site.zone)
        if missing is not None:
            planned = [w for w in planned if any(w.first <= d <= w.last for d in missing)]
        windows += planned
    return windows


def missing_days(sink: Any, site: SiteContext, scope: Scope, today: date) -> set[date]:
    """Days of the site's range that InfluxDB lacks or holds incompletely, plus the recent two."""
    span = site_range(site, scope, today)
    if span is None:
        return set()
    first, last = span
    return incomplete_days(sink, site.site_id, site.zone, first, last) | recent_days(
        today, first, last)


def empty_range_reason(site: SiteContext, scope: Scope, today: date) -> str:
    """Why ``scope`` holds no day of ``site``'s data (``site_range`` returned None)."""
    first = max(filter(None, (scope.start, site.installed)))
    if first > today:
        return (f"site {site.site_id}: --start {first} is after the site's today ({today} in "
                f"{site.zone_name or 'its zone'}); there is no history yet")
    last = min(scope.end or today, today)
    if site.installed and last < site.installed:
        return (f"site {site.site_id}: the range ends {last}, before the installation date "
                f"{site.installed}; the site has no history then")
    return f"site {site.site_id}: --start {first} is after --end {last}"


def plan(sites: Sequence[SiteContext], scope: Scope, *, sink: Any = None,
         now: Clock = utc_now) -> list[Window]:
    """All windows of all sites, newest first (``scope.missing`` reads coverage via ``sink``).
    Raises ``UsageError`` naming why when the range holds no day of any site."""
    todays = [site.today(now) for site in sites]
    dated = list(zip(sites, todays, strict=True))
    empty = [empty_range_reason(site, scope, today) for site, today in dated
             if site_range(site, scope, today) is None]
    if sites and len(empty) == len(sites):
        raise UsageError("nothing to import: " + "; ".join(empty))
    windows: list[Window] = []
    for site, today in dated:
        missing = missing_days(sink, site, scope, today) if scope.missing else None
        windows += plan_site(site, scope, today, missing)
    return newest_first(windows)


def resolve_sites(client: Any, site_ids: Sequence[int], config_zone: str, *,
                  now: Clock = utc_now) -> list[SiteContext]:
    """Each site through the one zone chain (``site.resolve_site``): the import, its dry run
    and the gap fill resolve zones identically."""
    return [resolve_site(client, site_id, config_zone, clock=now) for site_id in site_ids]


PRICED_KINDS = ("energy", "charge")


def _priced_days(windows: Sequence[Window]) -> dict[int, tuple[date, date]]:
    """Per site, the local days first..last of its energy and charge windows."""
    return _days_of(windows, PRICED_KINDS)


def _days_of(windows: Sequence[Window], kinds: Sequence[str]) -> dict[int, tuple[date, date]]:
    """Per site, the local days first..last of its windows of ``kinds``."""
    spans: dict[int, tuple[date, date]] = {}
    for win in windows:
        if win.kind in kinds:
            first, last = spans.get(win.site_id, (win.first, win.last))
            spans[win.site_id] = (min(first, win.first), max(last, win.last))
    return spans


def site_costing(sink: Any, sites: Sequence[SiteContext], windows: Sequence[Window], *,
                 now: Clock = utc_now, system_price: float | None = None
                 ) -> dict[int, SiteCosting]:
    """The costing of each site that has energy or charge windows and a known tariff."""
    spans = _priced_days(windows)
    out = {}
    for site in sites:
        if site.site_id in spans:
            found = costing_for(sink, site.site_id, site.zone_name,
                                site_tariff_content(site.info), at=now(),
                                system_price=system_price)
            if found is not None:
                out[site.site_id] = found
    return out


def run_windows(client: Any, sink: Any, sites: Sequence[SiteContext], windows: list[Window], *,
                concurrency: int = 4, checkpoint: Checkpoint | None = None,
                stop: threading.Event | None = None,
                progress: Callable[[int], Progress] | None = None,
                now: Clock = utc_now, options: RunOptions | None = None,
                system_price: float | None = None) -> Summary:
    """Run planned windows with the given concurrency; returns the summary. Energy buckets
    are priced as they are imported; afterwards the charges and session costs of the days
    imported are settled (``collector.cost``)."""
    options = options or RunOptions(concurrency=concurrency)
    costing = site_costing(sink, sites, windows, now=now, system_price=system_price)
    runner = Runner(client, sink, {s.site_id: s for s in sites}, options=options,
                    checkpoint=checkpoint, progress=progress, stop=stop, now=now,
                    costing=costing)
    summary = runner.run(windows)
    if not runner.stop.is_set():
        for site_id, (first, last) in _priced_days(windows).items():
            if site_id in costing:
                settle_quietly(sink, costing[site_id], first, last,
                               known=runner.priced_energy(site_id))
        for site in sites:
            span = _days_of(windows, HEALTH_KINDS).get(site.site_id)
            if span is not None:
                update_quietly(sink, site, *span, now=now)
    return summary


HEALTH_KINDS = ("energy", "backup")


def record_tariffs(sink: Any, sites: Sequence[SiteContext], now: Clock = utc_now) -> None:
    """Store each site's current tariff as a snapshot when it differs from the last one."""
    recorder = TariffRecorder(sink)
    for site in sites:
        recorder.record(site.site_id, site.info, now())


def site_snapshots(sites: Sequence[SiteContext], now: Clock = utc_now) -> list[Any]:
    """A ``site_info`` point per site from the reply read while resolving it, tagged with the
    zone the backfill uses, so a history-only import tells the dashboards the site's name and
    zone."""
    when = now()
    return [site_info_frame(site.info, site.site_id, site.site_name or str(site.site_id), when,
                            site.zone_name)
            for site in sites if site.info]


def run_backfill(client: Any, sink: Any, site_ids: Sequence[int], scope: Scope, *,
                 config_zone: str = "", now: Clock = utc_now, **run_kwargs: Any) -> Summary:
    """Resolve sites, record their ``site_info`` and tariffs, plan ``scope`` and run it (the
    ``tesla-energy backfill`` command)."""
    sites = resolve_sites(client, site_ids, config_zone, now=now)
    sink.write(site_snapshots(sites, now))
    record_tariffs(sink, sites, now)
    windows = plan(sites, scope, sink=sink, now=now)
    return run_windows(client, sink, sites, windows, now=now, **run_kwargs)


def _quiet(total: int) -> Progress:
    return Progress(total, tty=False, every=60.0)


def _silent(total: int) -> Progress:
    return Progress(total, tty=False, every=float("inf"), log_finish=False)


def fill_gaps(client: Any, sink: Any, site_ids: Sequence[int], since: date | None = None, *,
              config_zone: str = "", kinds: tuple[str, ...] = ("energy",),
              concurrency: int = 2, stop: threading.Event | None = None,
              now: Clock = utc_now, sites: Sequence[SiteContext] | None = None,
              options: RunOptions | None = None, system_price: float | None = None) -> Summary:
    """Fetch the energy days missing or incomplete in InfluxDB since ``since`` (the daemon's gap
    fill). ``since`` is a local date; None means the day of the newest stored bucket of each
    site (the last ``DEFAULT_GAP_DAYS`` days when nothing is stored). Today and yesterday are
    always refreshed. Uses the client's own rate limiter; no checkpoint (coverage is the
    resume state)."""
    sites = list(sites) if sites is not None else resolve_sites(client, site_ids, config_zone,
                                                                now=now)
    windows: list[Window] = []
    for site in sites:
        today = site.today(now)
        start = min(since or _gap_start(sink, site, today), today - timedelta(days=1))
        windows += plan([site], Scope(start=start, kinds=kinds, missing=True), sink=sink, now=now)
    return run_windows(client, sink, sites, newest_first(windows), concurrency=concurrency,
                       stop=stop, progress=_quiet, now=now, options=options,
                       system_price=system_price)


def _gap_start(sink: Any, site: SiteContext, today: date) -> date:
    stored = last_stored_day(sink, site.site_id, site.zone)
    return stored or today - timedelta(days=DEFAULT_GAP_DAYS)


class RecentHistory:
    """The daemon's view of the backfill: refresh recent history, fill gaps (sites cached)."""

    def __init__(self, client: Any, sink: Any, settings: Any, *, now: Clock = utc_now,
                 options: RunOptions | None = None) -> None:
        self.client = client
        self.sink = sink
        self.config_zone = settings.tesla.time_zone
        self.system_price = settings.cost.system_price or None
        self.options = options or RunOptions(concurrency=settings.backfill.concurrency)
        self._now = now
        self._sites: dict[int, SiteContext] = {}
        self._lock = threading.Lock()
        self.stop = threading.Event()

    def close(self) -> None:
        """Stop the runs in progress promptly (daemon shutdown): no new windows, and requests
        waiting for the budget give up."""
        self.stop.set()
        limiter = getattr(self.client, "limiter", None)
        if limiter is not None:
            limiter.cancel()

    def _finish(self, summary: Summary) -> Summary:
        if not self.stop.is_set():
            summary.raise_for_failure()
        return summary

    def remember(self, site: SiteContext) -> None:
        """Cache a context resolved elsewhere (the daemon resolves its sites at start)."""
        with self._lock:
            self._sites[site.site_id] = site

    def site(self, site_id: int) -> SiteContext:
        """The cached context of a site, resolved by the one zone chain on first use."""
        with self._lock:
            if site_id not in self._sites:
                self._sites[site_id] = resolve_site(self.client, site_id, self.config_zone,
                                                    clock=self._now)
            return self._sites[site_id]

    def refresh_recent(self, site_id: int) -> Summary:
        """Today and yesterday of every kind (Tesla revises them), written to the sink.
        Raises the error that stopped it (e.g. ``AuthRequired``) or ``TransientError`` when
        a window failed, so the daemon's failure tracking sees it."""
        site = self.site(site_id)
        today = site.today(self._now)
        scope = Scope(start=today - timedelta(days=1), end=today)
        windows = plan([site], scope, now=self._now)
        summary = run_windows(self.client, self.sink, [site], windows, progress=_silent,
                              now=self._now, options=replace(self.options, concurrency=1),
                              stop=self.stop, system_price=self.system_price)
        return self._finish(summary)

    def fill_gaps(self, sites: Sequence[Any], since: date | None = None) -> Summary:
        """Gap fill for the daemon's ``Site`` objects (by ``site_id``); raises like
        ``refresh_recent`` when a window failed."""
        contexts = [self.site(s.site_id) for s in sites]
        summary = fill_gaps(self.client, self.sink, [c.site_id for c in contexts], since,
                            sites=contexts, now=self._now, options=self.options, stop=self.stop,
                            system_price=self.system_price)
        return self._finish(summary)


def plan_lines(sites: Sequence[SiteContext], windows: Sequence[Window]) -> list[str]:
    """The dry-run report: per site its zone and range, per kind windows and requests."""
    lines = []
    for site in sites:
        mine = [w for w in windows if w.site_id == site.site_id]
        lines.append(f"site {site.site_id} {site.site_name!r} zone {site.describe_zone()}, "
                     f"installed {site.installed or 'unknown'}")
        for kind in KINDS:
            of_kind = [w for w in mine if w.kind == kind]
            if of_kind:
                lines.append(_kind_line(kind, of_kind))
    lines.append(f"total: {len(windows)} history requests (plus retries); nothing was imported")
    return lines


def _kind_line(kind: str, windows: Sequence[Window]) -> str:
    first = min(w.first for w in windows)
    last = max(w.last for w in windows)
    days = sum(w.days for w in windows)
    sample = windows[0]
    return (f"  {kind:7} {len(windows):6} requests  {days:6} days  {first}..{last}  "
            f"newest first, e.g. {sample.start.isoformat()} .. {sample.end.isoformat()}"
            + (f" period={sample.period}" if sample.period else ""))

