"""``tesla-energy tariff ...``: validate a tariff file and price instants with it.

Sub-commands: ``validate FILE`` (every problem at once; exit 0 valid, 2 invalid) and
``price --at TIMESTAMP FILE`` (the buy and sell price in force at that instant, in the site's
zone). This module reads files and formats output; the rules and the lookup live in
``collector.tariff``. It must not hold tariff logic of its own.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from collector.commands.common import settings_from
from collector.errors import UsageError
from collector.tariff import Tariff, TariffFormatError, errors, load_tariff, price_at, validate


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
    check.set_defaults(handler=handle_validate)
    price = actions.add_parser("price", help="the buy and sell price at an instant",
                               description="The buy and sell price in force at TIMESTAMP.")
    price.add_argument("file", type=Path, metavar="FILE")
    price.add_argument("--at", required=True, metavar="TIMESTAMP",
                       help="ISO 8601 instant; without an offset it is wall time in the zone")
    price.add_argument("--time-zone", metavar="TZ",
                       help="the site's IANA zone (default: tesla.time_zone from the config)")
    price.set_defaults(handler=handle_price)


def read_tariff_file(path: Path) -> Tariff:
    """Load and parse a tariff file; any file, JSON or structure problem is one line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read tariff file {path}: {exc.strerror or exc}") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from None
    try:
        return load_tariff(document)
    except TariffFormatError as exc:
        raise TariffFormatError(f"{path}: {exc}") from None


def handle_validate(args: argparse.Namespace) -> int:
    tariff = read_tariff_file(args.file)
    problems = validate(tariff)
    for problem in problems:
        print(problem)
    failed = len(errors(problems))
    warned = len(problems) - failed
    verdict = "invalid" if failed else "valid"
    print(f"{args.file}: {verdict} ({failed} error(s), {warned} warning(s))")
    return 2 if failed else 0


def require_valid(tariff: Tariff, source: str) -> None:
    failed = errors(validate(tariff))
    if failed:
        raise UsageError(f"{source} is not a valid tariff ({len(failed)} error(s), first: "
                         f"{failed[0].message}); run 'tesla-energy tariff validate' for all")


def _zone(args: argparse.Namespace) -> str:
    name = args.time_zone or settings_from(args).tesla.time_zone
    if not name:
        raise UsageError("no time zone: pass --time-zone (e.g. America/Los_Angeles) or set "
                         "tesla.time_zone / TESLA_TIME_ZONE")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--time-zone {name!r} is not an IANA time zone name") from None
    return name


def parse_instant(text: str, zone: str) -> pd.Timestamp:
    """An aware instant: offsets are kept; wall time is placed in ``zone`` (strictly)."""
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        raise UsageError(f"--at {text!r} is not an ISO 8601 timestamp") from None
    if stamp.tzinfo is not None:
        return stamp
    try:
        return stamp.tz_localize(zone, ambiguous="raise", nonexistent="raise")
    except Exception:  # pytz-style AmbiguousTimeError / NonExistentTimeError
        raise UsageError(f"--at {text} is ambiguous or does not exist in {zone} (a DST "
                         "change); add the UTC offset, e.g. 2024-11-03T01:30-08:00") from None


def handle_price(args: argparse.Namespace) -> int:
    tariff = read_tariff_file(args.file)
    require_valid(tariff, str(args.file))
    zone = _zone(args)
    instant = parse_instant(args.at, zone)
    row = price_at(tariff, pd.DatetimeIndex([instant]), zone).iloc[0]
    local = instant.tz_convert(zone)
    unit = f"{tariff.currency}/kWh"
    sys.stdout.write(
        f"{local.isoformat()} ({zone}): season {row['season']}, period {row['period']}, "
        f"buy {_money(row['buy'])} {unit}, sell {_money(row['sell'])} {unit}\n")
    return 0


def _money(value: float) -> str:
    return "-" if pd.isna(value) else f"{value:.4f}"
