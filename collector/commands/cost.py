"""``tesla-energy cost``: energy cost and savings per local day or month, from ``energy_cost``.

Argument checks come first (one line, exit 2). Then the site is resolved through the one zone
chain (``collector.backfill.resolve_site``), its current tariff is recorded when it changed,
the buckets of the range that have no ``energy_cost`` point yet are priced and written
(``--recompute`` rewrites them all, after ``tariff use``), charges and session costs are
settled, and the report is printed as a table, CSV or JSON. The arithmetic lives in
``collector.cost``; heavy modules are imported inside the handler (instant start-up).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from typing import Any

from collector.commands.common import (
    add_site_argument,
    parse_date,
    positive_float,
    settings_from,
)
from collector.errors import CollectorError, UsageError

DEFAULT_DAYS = 30
DEFAULT_MONTHS = 12


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "cost", help="energy cost and savings per day or month, from the site's tariff",
        description="Energy cost and savings per local day or month from the site's own "
        "tariff (its timeline: site_info snapshots and 'tariff use' declarations), in the "
        "tariff's currency. Buckets not priced yet are priced and stored first.")
    add_site_argument(parser)
    parser.add_argument("--start", type=parse_date, metavar="YYYY-MM-DD",
                        help="first local day (default: 30 days ago, or the first day of the "
                        "month 11 months ago with --by month)")
    parser.add_argument("--end", type=parse_date, metavar="YYYY-MM-DD",
                        help="last local day, inclusive (default: today)")
    parser.add_argument("--by", choices=("day", "month"), default="day",
                        help="one row per local day (default) or month")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="table (default), csv for spreadsheets, json for scripts")
    parser.add_argument("--recompute", action="store_true",
                        help="reprice every bucket of the range with the current tariff "
                        "timeline (after 'tesla-energy tariff use')")
    parser.add_argument("--system-price", type=positive_float, metavar="AMOUNT",
                        help="what the system cost, for the payback estimate (default: "
                        "cost.system_price)")
    parser.add_argument("--installed", type=parse_date, metavar="YYYY-MM-DD",
                        help="when savings start counting for the payback (default: "
                        "cost.installation_date, else the site's installation date)")
    parser.set_defaults(handler=handle)


def default_range(today: date, by: str, start: date | None,
                  end: date | None) -> tuple[date, date]:
    """The range to report: the given dates (the end capped at today), else the last 30 days
    or 12 months up to today."""
    last = min(end, today) if end else today
    if start is not None:
        if start > last:
            raise UsageError(f"--start {start} is after the last day with data ({last}, "
                             "today in the site's zone)")
        return start, last
    if by == "month":
        month = last.replace(day=1)
        for _ in range(DEFAULT_MONTHS - 1):
            month = (month - timedelta(days=1)).replace(day=1)
        return month, last
    return last - timedelta(days=DEFAULT_DAYS - 1), last


def handle(args: argparse.Namespace) -> int:
    if args.start and args.end and args.start > args.end:
        raise UsageError(f"--start {args.start} is after --end {args.end}")
    settings = settings_from(args)
    from collector.cost import report as reports
    from collector.sink import open_sink

    site = resolve_context(settings, args.site)
    sink = open_sink(settings)
    try:
        costing = site_costing(sink, site, settings, args)
        first, last = default_range(site.today(), args.by, args.start, args.end)
        payback = _payback(settings, args, site)
        report = build_report(sink, costing, site, first, last, args, payback)
    finally:
        sink.close()
    text = reports.format_report(report, args.format)
    sys.stdout.write(text)
    if args.format == "csv":
        for note in report.notes:
            print(f"note: {note}", file=sys.stderr)
    return 0


def resolve_context(settings: Any, site_arg: int | None) -> Any:
    """The site's ``SiteContext`` (zone chain of the backfill, site_info's tariff)."""
    from collector.backfill import resolve_site
    from collector.commands.common import resolve_site as pick_site
    from collector.source import build_client

    with build_client(settings) as client:
        site_id = pick_site(client, settings, site_arg)
        return resolve_site(client, site_id, settings.tesla.time_zone)


def site_costing(sink: Any, site: Any, settings: Any, args: argparse.Namespace) -> Any:
    """Record the site's current tariff when it changed, then load its costing."""
    from datetime import UTC, datetime

    from collector.cost.service import costing_for
    from collector.cost.store import TariffRecorder
    from collector.tariff import site_tariff_content

    now = datetime.now(UTC)
    TariffRecorder(sink).record(site.site_id, site.info, now)
    price = args.system_price or settings.cost.system_price or None
    costing = costing_for(sink, site.site_id, site.zone_name, site_tariff_content(site.info),
                          at=now, system_price=price)
    if costing is None:
        raise UsageError(
            f"site {site.site_id} has no tariff: site_info carries none and none is declared; "
            f"declare it with 'tesla-energy tariff use FILE --site {site.site_id} --from "
            "YYYY-MM-DD'")
    return costing


def _payback(settings: Any, args: argparse.Namespace, site: Any) -> Any:
    from collector.cost.report import Payback

    price = args.system_price or settings.cost.system_price
    if not price:
        return None
    installed = args.installed or settings.cost.installation_date or site.installed
    if installed is None:
        raise UsageError("a system price is set but the installation date is unknown; set "
                         "cost.installation_date (COLLECTOR_INSTALLATION_DATE) or pass "
                         "--installed YYYY-MM-DD")
    return Payback(float(price), installed)


def build_report(sink: Any, costing: Any, site: Any, first: date, last: date,
                 args: argparse.Namespace, payback: Any) -> Any:
    from collector.cost import report as reports
    from collector.cost.service import day_span, price_range, select

    begin = min(first, payback.installed) if payback else first
    priced = price_range(sink, costing, begin, last,
                         recompute_from=first if args.recompute else None)
    lo, hi = day_span(first, last, costing.zone_name)
    stamps = priced.values.index.as_unit("s").asi8
    shown = priced.values[(stamps >= lo) & (stamps < hi)]
    if shown.empty:
        raise CollectorError(
            f"site {site.site_id} has no energy history from {first} to {last} to price; import "
            f"it with 'tesla-energy backfill --site {site.site_id} --start {first} --end {last}'")
    notes = reports.notes(shown, select(priced.fresh, lo, hi), zone=costing.zone_name,
                          first=first, last=last, today=site.today())
    if args.recompute:
        notes.insert(0, f"repriced {priced.written} buckets with the current tariff timeline")
    currencies = shown["currency"].dropna().astype(str)
    currency = (currencies.mode().iloc[0] if len(currencies)
                else costing.timeline.versions[-1].currency)
    return reports.build(site.site_id, currency, priced.values, priced.charges,
                         zone=costing.zone_name, by=args.by, first=first, last=last,
                         payback=payback, notes=notes)
