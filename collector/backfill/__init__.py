"""History backfill: import energy buckets, backup events and charge sessions exactly, resumably.

Layout: ``windows`` plans requests in the site's zone (pure), ``site`` resolves zone and
installation date, ``convert`` checks replies and turns them into frames via the transform
stage, ``runner`` fetches concurrently and writes through the sink, ``checkpoint`` remembers
finished windows, ``coverage`` reads what InfluxDB already holds, ``stats``/``progress`` report,
and ``service`` holds the entry points used by the CLI and the daemon:

- ``run_backfill(client, sink, site_ids, Scope(...), ...) -> Summary`` (``tesla-energy
  backfill``),
- ``fill_gaps(client, sink, site_ids, since, ...) -> Summary`` (the daemon's gap fill),
- ``RecentHistory(client, sink, settings)`` with ``refresh_recent(site_id, time_zone)`` and
  ``fill_gaps(sites)`` (the daemon's history job).

Nothing in this package imports httpx or influxdb_client.
"""

from collector.backfill.checkpoint import Checkpoint, checkpoint_path
from collector.backfill.runner import Runner, RunOptions
from collector.backfill.service import (
    RecentHistory,
    Scope,
    fill_gaps,
    plan,
    plan_lines,
    resolve_sites,
    run_backfill,
    run_windows,
)
from collector.backfill.site import SiteContext, resolve_site
from collector.backfill.stats import KindStats, Summary, format_summary
from collector.backfill.windows import KINDS, Window, plan_kind

__all__ = [
    "KINDS",
    "Checkpoint",
    "KindStats",
    "RecentHistory",
    "RunOptions",
    "Runner",
    "Scope",
    "SiteContext",
    "Summary",
    "Window",
    "checkpoint_path",
    "fill_gaps",
    "format_summary",
    "plan",
    "plan_kind",
    "plan_lines",
    "resolve_site",
    "resolve_sites",
    "run_backfill",
    "run_windows",
]
