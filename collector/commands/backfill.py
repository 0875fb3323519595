"""``tesla-energy backfill``: import a site's history (energy, backup events, charge sessions).

Argument checking (dates, kinds, counts) happens before any configuration or network access so
bad usage always exits 2 with one line. The work itself is ``collector.backfill``; this module
only wires settings, the shared rate limiter, the client, the sink and the checkpoint together
and prints the plan or the summary.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from collector.backfill.windows import KINDS
from collector.commands.common import (
    add_site_argument,
    discover_site_ids,
    parse_date,
    positive_float,
    settings_from,
)
from collector.config import Settings, ascii_whole_number
from collector.errors import UsageError

if TYPE_CHECKING:
    from collector.backfill import Scope

EXIT_INTERRUPTED = 130


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "backfill", help="import history: energy buckets, backup events, charge sessions",
        description="Import a site's history from the Fleet API into InfluxDB, exactly and "
        "idempotently (re-running a range changes nothing). Dates are local dates in the "
        "site's time zone; --end is inclusive. An interrupted run continues where it stopped.")
    add_site_argument(parser, many=True)
    parser.add_argument("--start", type=parse_date, metavar="YYYY-MM-DD",
                        help="first local day (default: the installation date)")
    parser.add_argument("--end", type=parse_date, metavar="YYYY-MM-DD",
                        help="last local day, inclusive (default: today)")
    parser.add_argument("--kind", type=parse_kinds, default=KINDS, metavar="KINDS",
                        help=f"comma list of {','.join(KINDS)} (default: all)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan (zone, windows and requests per kind); import nothing")
    parser.add_argument("--concurrency", type=positive_int, metavar="N",
                        help="requests in flight (default: backfill.concurrency)")
    parser.add_argument("--rate", type=positive_float, metavar="R",
                        help="requests per second (default: backfill.requests_per_second)")
    parser.add_argument("--missing", action="store_true",
                        help="only days InfluxDB lacks or holds incompletely (plus today and "
                        "yesterday)")
    parser.set_defaults(handler=handle)


# --- argument types (argparse turns ArgumentTypeError into one line and exit 2) ---


def parse_kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(dict.fromkeys(k.strip().lower() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(
            f"unknown kind {','.join(unknown) or repr(text)}; choose from {','.join(KINDS)}")
    return kinds


def positive_int(text: str) -> int:
    try:
        value = ascii_whole_number(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def scope_from(args: argparse.Namespace) -> Scope:
    from collector.backfill import Scope

    if args.start and args.end and args.start > args.end:
        raise UsageError(f"--start {args.start} is after --end {args.end}")
    return Scope(start=args.start, end=args.end, kinds=args.kind, missing=args.missing)


# --- running ---


@contextmanager
def stop_on_sigterm(stop: threading.Event, client: Any = None) -> Iterator[None]:
    """SIGTERM finishes the windows in flight and stops, like Ctrl-C; ``client``'s waits
    (backoff, ``Retry-After``, its rate limiter) end at once."""
    def on_term(*_: Any) -> None:
        stop.set()
        if client is not None:
            client.cancel()
            if client.limiter is not None:
                client.limiter.cancel()

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (tests)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def handle(args: argparse.Namespace) -> int:
    scope = scope_from(args)
    settings = settings_from(args)
    from collector.source import RateLimiter, build_client

    concurrency = args.concurrency or settings.backfill.concurrency
    limiter = RateLimiter(args.rate or settings.backfill.requests_per_second)
    # The sink first (a refused InfluxDB stops the command before any Fleet API request);
    # a dry run needs one only to read coverage for --missing, and then writes nothing.
    needs_sink = not args.dry_run or scope.missing
    with _sink_or_none(settings, needs_sink, probe=not args.dry_run) as sink, \
            build_client(settings, limiter=limiter) as client:
        site_ids = args.sites or discover_site_ids(client, settings)
        if not site_ids:
            raise UsageError("the token sees no energy site; check the account and its scopes")
        if args.dry_run:
            return _dry_run(client, settings, site_ids, scope, sink)
        return _import(client, sink, settings, site_ids, scope, concurrency)


@contextmanager
def _sink_or_none(settings: Settings, needed: bool, probe: bool) -> Iterator[Any]:
    if not needed:
        yield None
        return
    from collector.sink import open_sink

    sink = open_sink(settings, probe=probe)
    try:
        yield sink
    finally:
        sink.close()


def _dry_run(client: Any, settings: Settings, site_ids: list[int], scope: Scope,
             sink: Any) -> int:
    from collector.backfill import plan, plan_lines, resolve_sites

    # The same zone chain as the import: a site whose zone neither the configuration nor
    # site_info names costs one probe request here too (no history is imported).
    sites = resolve_sites(client, site_ids, settings.tesla.time_zone)
    for line in plan_lines(sites, plan(sites, scope, sink=sink)):
        print(line)
    return 0


def _import(client: Any, sink: Any, settings: Settings, site_ids: list[int], scope: Scope,
            concurrency: int) -> int:
    from collector.backfill import Checkpoint, checkpoint_path, format_summary, run_backfill

    checkpoint = Checkpoint(checkpoint_path(settings.collector.state_dir))
    stop = threading.Event()
    with stop_on_sigterm(stop, client):
        summary = run_backfill(client, sink, site_ids, scope,
                               config_zone=settings.tesla.time_zone, concurrency=concurrency,
                               checkpoint=checkpoint, stop=stop,
                               system_price=settings.cost.system_price or None)
    kept = sink.undelivered()
    if kept and not summary.error:
        summary.error = kept  # nothing claims "complete" while points wait in the spool
    for line in format_summary(summary):
        print(line)
    if summary.interrupted:
        return EXIT_INTERRUPTED
    return 0 if summary.ok else 1
