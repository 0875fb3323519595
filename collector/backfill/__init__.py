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

import importlib
from typing import Any

# name -> submodule. Loaded on first use (PEP 562), so the light parts (``windows``: the kinds
# and the planner) do not pull in pandas for ``tesla-energy backfill --help`` or a usage error.
_EXPORTS = {
    "Checkpoint": "checkpoint", "checkpoint_path": "checkpoint",
    "Runner": "runner", "RunOptions": "runner",
    "RecentHistory": "service", "Scope": "service", "fill_gaps": "service", "plan": "service",
    "plan_lines": "service", "resolve_sites": "service", "run_backfill": "service",
    "run_windows": "service",
    "SiteContext": "site", "resolve_site": "site",
    "KindStats": "stats", "Summary": "stats", "format_summary": "stats",
    "KINDS": "windows", "Window": "windows", "plan_kind": "windows",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [  # noqa: F822 (provided by __getattr__)
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
