"""``tesla-energy budget [--sites N]``: Fleet API requests per day by endpoint at the current
settings and their projected monthly cost after the credit; with ``COLLECTOR_API_BUDGET`` set,
the intervals the daemon will use to stay within it. No network call: the site count is
``--sites``, else the length of ``TESLA_SITE_IDS``, else 1 (say so)."""

from __future__ import annotations

import argparse
import sys

from collector.commands.common import settings_from
from collector.config import _count


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "budget", help="Fleet API requests per day and their projected monthly cost",
        description="Requests per day by endpoint at the configured intervals, the projected "
        "monthly Fleet API cost after the credit, and the plan under COLLECTOR_API_BUDGET.")
    parser.add_argument("--sites", type=_sites, metavar="N",
                        help="number of sites (default: TESLA_SITE_IDS, else 1)")
    parser.set_defaults(handler=handle)


def _sites(text: str) -> int:
    try:
        return _count(1)(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of sites >= 1"
                                         ) from None


def handle(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    from collector import budget

    sites = args.sites or len(settings.tesla.site_ids) or 1
    if not (args.sites or settings.tesla.site_ids):
        print("note: 1 site assumed (pass --sites N or set TESLA_SITE_IDS)", file=sys.stderr)
    configured = budget.bill(sites, settings)
    planned = budget.bill(sites, settings, budget.plan(sites, settings))
    cap = settings.api.budget
    lines = budget.describe(planned, configured)
    if cap is not None:
        lines.append(f"budget: {cap:g} USD a month after the credit "
                     f"({'within' if planned.after_credit() <= cap else 'OVER'})")
    print("\n".join(lines))
    return 0
