"""``tesla-energy battery`` and ``tesla-energy outages``: battery health and outage reports.

Argument checks come first (one line, exit 2). The site is resolved through the one zone
chain, the figures of the range are (re)computed from what InfluxDB holds and written
(``collector.site_health.service.update``, idempotent), then printed. Heavy modules are imported
inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from typing import Any

from collector.commands.common import add_site_argument, parse_date, settings_from
from collector.errors import CollectorError, UsageError

DEFAULT_DAYS = 365


def _add_range(parser: argparse.ArgumentParser) -> None:
    add_site_argument(parser)
    parser.add_argument("--start", type=parse_date, metavar="YYYY-MM-DD",
                        help="first local day (default: 365 days before --end)")
    parser.add_argument("--end", type=parse_date, metavar="YYYY-MM-DD",
                        help="last local day, inclusive (default: yesterday; today's "
                        "figures are provisional)")


def register(sub: argparse._SubParsersAction) -> None:
    battery = sub.add_parser("battery", help="battery health: efficiency, cycles, capacity",
                             description="Round-trip efficiency (trailing 30 days), "
                             "equivalent full cycles and the capacity estimate per month, "
                             "and the capacity trend, from the stored history.")
    _add_range(battery)
    battery.set_defaults(handler=handle_battery)
    outages = sub.add_parser("outages", help="every grid outage and the energy that carried "
                             "the home through it",
                             description="Every stored grid outage (start in the site's "
                             "zone, duration, home/battery/solar Wh, state of charge) and "
                             "monthly totals.")
    _add_range(outages)
    outages.set_defaults(handler=handle_outages)


def _range(site: Any, start: date | None, end: date | None) -> tuple[date, date]:
    yesterday = site.today() - timedelta(days=1)
    # an explicit --end may include today (its figures are provisional until the day ends)
    last = min(end, site.today()) if end else yesterday
    first = start or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise UsageError(f"--start {first} is after the last complete day ({last}, yesterday "
                         "in the site's zone)")
    return first, last


def _compute(args: argparse.Namespace) -> tuple[Any, Any, float, date, date]:
    if args.start and args.end and args.start > args.end:
        raise UsageError(f"--start {args.start} is after --end {args.end}")
    settings = settings_from(args)
    from collector.commands.cost import resolve_context
    from collector.sink import open_sink
    from collector.site_health.service import nameplate_of, update

    site = resolve_context(settings, args.site)
    nameplate = nameplate_of(site.info)
    if nameplate is None:
        raise CollectorError(f"site {site.site_id} has no battery (site_info reports no "
                             "nameplate_energy): no battery health or outage figures")
    first, last = _range(site, args.start, args.end)
    sink = open_sink(settings)
    try:
        updated = update(sink, site.site_id, site.zone_name, nameplate, first, last)
    finally:
        sink.close()
    return site, updated, nameplate, first, last


def _backfill_hint(site: Any, first: date, last: date) -> str:
    return (f"import it with 'tesla-energy backfill --site {site.site_id} --start {first} "
            f"--end {last}'")


def handle_battery(args: argparse.Namespace) -> int:
    from collector.site_health.report import battery_table

    site, updated, nameplate, first, last = _compute(args)
    health = updated.health.dropna(how="all")
    if health.empty:
        raise CollectorError(f"site {site.site_id} has no energy history or live data from "
                             f"{first} to {last}; {_backfill_hint(site, first, last)}")
    sys.stdout.write(battery_table(health, site.zone_name, nameplate))
    return 0


def handle_outages(args: argparse.Namespace) -> int:
    from collector.site_health.report import outage_table

    site, updated, _, first, last = _compute(args)
    if updated.outages.empty:
        print(f"site {site.site_id}: no grid outage stored from {first} to {last} (if history "
              f"is not imported yet, {_backfill_hint(site, first, last)} --kind backup,energy)")
        return 0
    outages = updated.outages.join(updated.events["duration_seconds"])
    sys.stdout.write(outage_table(outages, site.zone_name))
    return 0
