"""``tesla-energy tariff``: the argument parser for validate, price, show, set, history, use.

The actions themselves (with pandas behind the tariff model) are in ``tariff_actions`` and are
imported only when one runs, so ``--help`` and bad usage answer at once.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path

from collector.commands.common import add_site_argument, parse_date
from collector.commands.set import add_change_arguments


def _action(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        actions = importlib.import_module("collector.commands.tariff_actions")
        return getattr(actions, name)(args)

    run.__name__ = name
    return run


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "tariff", help="validate, show, price and set time-of-use tariffs",
        description="Work with Tesla time-of-use tariffs (tariff_content_v2 JSON).")
    actions = parser.add_subparsers(dest="tariff_command", metavar="ACTION",
                                    parser_class=type(parser))
    actions.required = True
    check = actions.add_parser("validate", help="check a tariff file against Tesla's rules",
                               description="List every problem of a tariff file; exit 0 when "
                               "valid (warnings allowed), 2 when invalid.")
    check.add_argument("file", type=Path, metavar="FILE")
    check.set_defaults(handler=_action("handle_validate"))
    price = actions.add_parser("price", help="the buy and sell price at an instant",
                               description="The buy and sell price in force at TIMESTAMP.")
    price.add_argument("file", type=Path, metavar="FILE")
    price.add_argument("--at", required=True, metavar="TIMESTAMP",
                       help="ISO 8601 instant; without an offset it is wall time in the zone")
    price.add_argument("--time-zone", metavar="TZ",
                       help="the site's IANA zone (default: tesla.time_zone from the config)")
    price.set_defaults(handler=_action("handle_price"))
    show = actions.add_parser("show", help="the site's current tariff as a table",
                              description="Show a tariff (the site's current one from "
                              "site_info, or --file) by season, weekdays and time.")
    add_site_argument(show)
    show.add_argument("--file", type=Path, metavar="FILE", help="show this file instead")
    show.set_defaults(handler=_action("handle_show"))
    put = actions.add_parser("set", help="upload a tariff to the site",
                             description="Validate FILE, show it, ask, then POST it as the "
                             "site's time_of_use_settings.")
    put.add_argument("file", type=Path, metavar="FILE")
    add_change_arguments(put)
    put.set_defaults(handler=_action("handle_set"))
    history = actions.add_parser("history", help="the site's tariff timeline",
                                 description="The tariff versions stored for the site: "
                                 "site_info snapshots and declared files, with the range each "
                                 "one prices.")
    add_site_argument(history)
    history.add_argument("--format", choices=("table", "json"), default="table",
                         help="table (default) or json")
    history.set_defaults(handler=_action("handle_history"))
    use = actions.add_parser("use", help="declare the tariff of a past period (nothing is "
                             "sent to Tesla)",
                             description="Validate FILE like 'tariff set' and store it as the "
                             "tariff in force on local days --from..--to (inclusive; open-ended "
                             "without --to: until the next known version). Declared ranges "
                             "win over site_info snapshots. Then reprice the range with "
                             "'tesla-energy cost --recompute'.")
    use.add_argument("file", type=Path, metavar="FILE")
    add_site_argument(use)
    use.add_argument("--from", dest="from_day", type=parse_date, required=True,
                     metavar="YYYY-MM-DD", help="first local day the tariff applied")
    use.add_argument("--to", dest="to_day", type=parse_date, metavar="YYYY-MM-DD",
                     help="last local day it applied, inclusive (default: until the next "
                     "known version)")
    use.set_defaults(handler=_action("handle_use"))
