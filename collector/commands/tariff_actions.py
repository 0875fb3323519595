"""The actions of ``tesla-energy tariff ...`` (its parser is in ``tariff``): validate a tariff
file and price instants with it.

Sub-commands: ``validate FILE`` (every problem at once; exit 0 valid, 2 invalid),
``price --at TIMESTAMP FILE`` (the buy and sell price in force at that instant, in the site's
zone), ``show`` (the site's current tariff, or a file's, as a table), ``set FILE`` (validate,
show, confirm, POST ``time_of_use_settings``), ``history`` (the site's stored tariff timeline)
and ``use FILE --site ID --from DATE [--to DATE]`` (declare the tariff of a past range; nothing
is sent to Tesla). This module reads files and sites and formats output; the rules and the
lookup live in ``collector.tariff``, the timeline in ``collector.cost``, the change flow in
``collector.control``. It must not hold tariff logic of its own.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from collector.commands.common import (
    resolve_site,
    settings_from,
)
from collector.commands.set import run_change
from collector.control import Change
from collector.errors import CollectorError, UsageError
from collector.source import build_client
from collector.tariff import (
    Side,
    Tariff,
    TariffFormatError,
    day_names,
    errors,
    hhmm,
    load_tariff,
    parse_tariff_json,
    price_at,
    schedule,
    site_tariff_content,
    validate,
)

#: A tariff file is a few kB; refuse to read more than this.
MAX_TARIFF_FILE_BYTES = 1 << 20


def read_tariff_file(path: Path) -> Tariff:
    """Load and parse a tariff file; any file, encoding, JSON, number or structure problem
    is one line (exit 2)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_TARIFF_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read tariff file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_TARIFF_FILE_BYTES:
        raise UsageError(f"{path} is larger than 1 MiB; a tariff file is a small JSON document")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not a text file (not UTF-8); a tariff file is JSON") from None
    try:
        return load_tariff(parse_tariff_json(text))
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
        if not text.isascii():  # pandas reads "٢٠٢٤-..." as 2024-...
            raise ValueError
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


def _zone_and_instant(args: argparse.Namespace) -> tuple[Any, pd.Timestamp]:
    """The zone to read the tariff's wall-clock periods in, and the instant. An instant with
    a UTC offset needs no zone: with none passed or configured, its own offset is the wall
    clock (exact for that instant; DST does not matter for one instant)."""
    if not (args.time_zone or settings_from(args).tesla.time_zone):
        stamp = parse_instant(args.at, "UTC")
        if pd.Timestamp(args.at).tzinfo is not None:
            return stamp.tzinfo, stamp
    zone = _zone(args)
    return zone, parse_instant(args.at, zone)


def handle_price(args: argparse.Namespace) -> int:
    tariff = read_tariff_file(args.file)
    require_valid(tariff, str(args.file))
    zone, instant = _zone_and_instant(args)
    row = price_at(tariff, pd.DatetimeIndex([instant]), zone).iloc[0]
    local = instant.tz_convert(zone)
    unit = f"{tariff.currency}/kWh"
    sys.stdout.write(
        f"{local.isoformat()} ({zone}): season {row['season']}, period {row['period']}, "
        f"buy {_money(row['buy'])} {unit}, sell {_money(row['sell'])} {unit}\n")
    return 0


def _money(value: float) -> str:
    return "-" if pd.isna(value) else f"{value:.4f}"


def format_tariff(tariff: Tariff) -> list[str]:
    """The tariff as text: per season, weekday groups and their time slots with prices."""
    unit = f"{tariff.currency or '?'}/kWh"
    title = " / ".join(p for p in (tariff.name, tariff.utility, tariff.code) if p)
    lines = [f"Tariff: {title or '(no name)'}   prices in {unit}"]
    lines += _side_lines(tariff, tariff.buy)
    if tariff.sell is not None and tariff.sell.own_seasons:
        lines.append("Sell tariff (its own seasons):")
        lines += _side_lines(tariff, tariff.sell)
    elif tariff.sell is None:
        lines.append("No sell tariff: exports are not priced.")
    return lines


def _side_lines(tariff: Tariff, side: Side) -> list[str]:
    """A side's schedule; a sell tariff with its own seasons shows its prices as ``sell``."""
    selling = side is tariff.sell
    lines = []
    for entry in schedule(tariff, side):
        lines.append(f"Season {entry.season.name} ({entry.season.describe_dates()})")
        for days, slots in entry.days:
            lines.append(f"  {day_names(days)}")
            lines += [f"    {hhmm(s.start)}-{hhmm(s.end)}  {s.period:16} "
                      + (f"sell {_money(s.buy)}" if selling else
                         f"buy {_money(s.buy)}  sell {_money(s.sell)}") for s in slots]
    return lines


def _site_tariff(args: argparse.Namespace) -> tuple[Tariff, str]:
    settings = settings_from(args)
    with build_client(settings) as client:
        site_id = resolve_site(client, settings, args.site)
        content = site_tariff_content(client.site_info(site_id))
    if not content:
        raise UsageError(f"site {site_id} reports no tariff (site_info has neither "
                         "tariff_content_v2 nor tariff_content)")
    return load_tariff(content), f"site {site_id}"


def handle_show(args: argparse.Namespace) -> int:
    if args.file is not None:
        tariff, source = read_tariff_file(args.file), str(args.file)
    else:
        tariff, source = _site_tariff(args)
    for line in format_tariff(tariff):
        print(line)
    for problem in validate(tariff):
        print(f"{source}: {problem}")
    return 0


def handle_set(args: argparse.Namespace) -> int:
    tariff = read_tariff_file(args.file)
    problems = validate(tariff)
    for problem in problems:
        print(problem)
    if errors(problems):
        raise UsageError(f"{args.file} is not a valid tariff ({len(errors(problems))} "
                         "error(s) above); nothing was sent")
    for line in format_tariff(tariff):
        print(line)
    content = tariff.content
    change = Change("time_of_use_settings", {"tou_settings": {"tariff_content_v2": content}},
                    {"tariff_content_v2": content})
    return run_change(args, change)


# --- the timeline: history and use --------------------------------------------------------


def _local(seconds: int | None, zone: str) -> str:
    if seconds is None:
        return "(open)"
    return pd.Timestamp(seconds, unit="s", tz="UTC").tz_convert(zone).strftime(
        "%Y-%m-%d %H:%M")


def timeline_rows(timeline: Any, zone: str) -> list[dict[str, Any]]:
    """One row per stored version with the range it prices (for display)."""
    return [{"from": _local(v.start, zone), "until": _local(timeline.end_of(i), zone),
             "source": v.source, "currency": v.currency, "sha256": v.sha256,
             "tariff": v.title()} for i, v in enumerate(timeline.versions)]


def handle_history(args: argparse.Namespace) -> int:
    from collector.commands.cost import resolve_context
    from collector.cost.store import load_timeline
    from collector.sink import open_sink

    settings = settings_from(args)
    site = resolve_context(settings, args.site)
    with open_sink(settings, probe=False) as sink:  # reads only: a read-only token will do
        timeline = load_timeline(sink, site.site_id)
    rows = timeline_rows(timeline, site.zone_name)
    if args.format == "json":
        print(json.dumps({"site_id": site.site_id, "time_zone": site.zone_name,
                          "versions": rows}, indent=2))
        return 0
    if not rows:
        print(f"site {site.site_id}: no tariff stored yet; the daemon and backfill record the "
              "site's tariff from site_info, or declare one with 'tesla-energy tariff use'")
        return 0
    print(f"Tariff timeline of site {site.site_id} (times in {site.zone_name}; declared "
          "ranges win over site_info snapshots)")
    print(f"  {'from':16}  {'until':16}  {'source':9}  {'currency':8}  {'sha256':12}  tariff")
    for row in rows:
        print(f"  {row['from']:16}  {row['until']:16}  {row['source']:9}  {row['currency']:8}"
              f"  {row['sha256'][:12]:12}  {row['tariff']}")
    print(f"Buckets before {rows[0]['from']} are priced with the earliest version (an "
          "assumption every cost report states).")
    return 0


def handle_use(args: argparse.Namespace) -> int:
    if args.site is None:
        raise UsageError("tariff use needs --site ID: a declared tariff belongs to one site")
    if args.to_day and args.to_day < args.from_day:
        raise UsageError(f"--to {args.to_day} is before --from {args.from_day}")
    tariff = read_tariff_file(args.file)
    require_valid(tariff, str(args.file))
    from collector.commands.cost import resolve_context
    from collector.cost.service import day_start
    from collector.cost.store import declared_version, version_frame
    from collector.sink import open_sink

    settings = settings_from(args)
    site = resolve_context(settings, args.site)
    if args.from_day > site.today():
        raise UsageError(f"--from {args.from_day} is in the future; 'tariff use' declares "
                         "past tariffs, 'tariff set' changes the site's tariff")
    zone = site.zone_name
    start = pd.Timestamp(day_start(args.from_day, zone), unit="s", tz="UTC")
    until = (None if args.to_day is None else
             pd.Timestamp(day_start(args.to_day + timedelta(days=1), zone), unit="s", tz="UTC"))
    version = declared_version(tariff.content, start, until)
    with open_sink(settings) as sink:
        result = sink.write(version_frame(version, site.site_id))
    span = f"{args.from_day} .. {args.to_day or '(until the next known version)'}"
    if not result.written:
        raise CollectorError(f"InfluxDB did not take the declaration (spooled: {result.spooled});"
                             " it is written when InfluxDB is back; run the command again then")
    print(f"declared {version.title()} ({tariff.currency}) for site {site.site_id}, local days "
          f"{span} in {zone}; nothing was sent to Tesla")
    end = args.to_day or site.today()
    print(f"reprice that range: tesla-energy cost --site {site.site_id} --start {args.from_day} "
          f"--end {end} --recompute")
    return 0
