"""``tesla-energy export``: one measurement of a range to a CSV or Parquet file, streamed.

Read-only against InfluxDB (``open_sink(probe=False)``: no write probe, a read-only token
works; no Fleet API call). The range is read in time chunks by ``collector.sink.reader`` and
each chunk is written before the next is read, so memory stays flat over years of data. Times
are UTC: ``--start``/``--end`` are UTC days (``--end`` inclusive), CSV times are ISO 8601 with
``+00:00``, Parquet times are ``timestamp[ns, tz=UTC]``. Tags and fields are columns (time,
tags, fields, each alphabetical). The file appears only when it is complete (written as
``PATH.part`` and renamed); nothing matching means exit 1 and no file. Must not write to
InfluxDB.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TextIO

from collector.commands.common import add_site_argument, parse_date, settings_from
from collector.errors import CollectorError, UsageError

FORMATS = ("csv", "parquet")
PARQUET_HINT = ("--format parquet needs pyarrow, which is not installed: install it with "
                "pip install 'tesla-energy-collector[parquet]' (or use --format csv)")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "export", help="export a measurement from InfluxDB to CSV or Parquet",
        description="Write every point of one measurement (optionally one site, one range of "
        "UTC days) to a CSV or Parquet file, in chunks. Times are UTC.")
    parser.add_argument("--measurement", required=True, metavar="NAME",
                        help="the measurement, e.g. energy_history or live_status")
    add_site_argument(parser)
    parser.add_argument("--start", type=parse_date, metavar="YYYY-MM-DD",
                        help="first UTC day (default: the first point)")
    parser.add_argument("--end", type=parse_date, metavar="YYYY-MM-DD",
                        help="last UTC day, inclusive (default: the last point)")
    parser.add_argument("--format", choices=FORMATS, required=True, dest="fmt",
                        help="csv (ISO 8601 UTC times) or parquet (needs the parquet extra)")
    parser.add_argument("--output", metavar="PATH", help="the file to write (default: "
                        "<measurement>[-<site>].<format> here; '-' writes CSV to stdout)")
    parser.set_defaults(handler=handle)


def day_ns(day: date) -> int:
    return int(datetime.combine(day, time(), UTC).timestamp()) * 10**9


def default_output(args: argparse.Namespace) -> str:
    site = f"-{args.site}" if args.site is not None else ""
    return f"{args.measurement}{site}.{args.fmt}"


def check_arguments(args: argparse.Namespace) -> None:
    """Usage errors that need no database: range order, parquet support, stdout."""
    if args.start and args.end and args.start > args.end:
        raise UsageError(f"--start {args.start} is after --end {args.end}")
    if args.fmt == "parquet" and importlib.util.find_spec("pyarrow") is None:
        raise UsageError(PARQUET_HINT)
    if args.output == "-" and args.fmt == "parquet":
        raise UsageError("--output - (stdout) works only with --format csv")
    if not args.measurement.strip():
        raise UsageError("--measurement is empty; name one, e.g. energy_history")


def handle(args: argparse.Namespace) -> int:
    check_arguments(args)
    settings = settings_from(args)
    from collector.sink import open_sink
    from collector.sink.reader import MeasurementReader

    site = None if args.site is None else str(args.site)
    sink = open_sink(settings, probe=False)
    try:
        reader = MeasurementReader(sink, args.measurement, site)
        check_selection(reader)
        start = day_ns(args.start) if args.start else None
        end = day_ns(args.end + timedelta(days=1)) if args.end else None
        span = reader.bounds(start, end)
        if span is None:
            raise CollectorError(f"no {describe(args)}{range_text(args)}: nothing "
                                 "written")
        output = args.output or default_output(args)
        rows = export(reader, span, output, args.fmt, progress_stream())
    finally:
        sink.close()
    where = "stdout" if output == "-" else output
    print(f"exported {rows:,} {describe(args)} to {where} (times in UTC)",
          file=sys.stderr)
    return 0


def describe(args: argparse.Namespace) -> str:
    site = f" of site {args.site}" if args.site is not None else ""
    return f"{args.measurement} points{site}"


def range_text(args: argparse.Namespace) -> str:
    if not (args.start or args.end):
        return ""
    return f" from {args.start or 'the beginning'} to {args.end or 'now'} (UTC days)"


def check_selection(reader: Any) -> None:
    """The measurement exists and, with ``--site``, holds that site (one line, exit 2)."""
    known = reader.measurements()
    if reader.measurement not in known:
        listed = ", ".join(known) if known else "none: the database is empty"
        raise UsageError(f"measurement {reader.measurement!r} is not in InfluxDB (stored: "
                         f"{listed})")
    if reader.site_id is not None:
        sites = reader.site_ids()
        if reader.site_id not in sites:
            raise UsageError(f"site {reader.site_id} has no {reader.measurement} points "
                             f"(sites stored: {', '.join(sites) or 'none'})")


def progress_stream() -> TextIO | None:
    return sys.stderr if getattr(sys.stderr, "isatty", bool)() else None


def export(reader: Any, span: tuple[int, int], output: str, fmt: str,
           progress: TextIO | None = None) -> int:
    """Stream the span into ``output``; returns the rows written. The file is renamed into
    place only when complete."""
    from collector.commands import export_formats

    layout = reader.layout()
    first, last = span
    writer = export_formats.open_writer(fmt, output, layout)
    rows = 0
    try:
        for stop, chunk in reader.chunks(first, last + 1):
            if chunk:
                writer.write(export_formats.chunk_frame(chunk, layout))
                rows += len(chunk)
            show_progress(progress, reader.measurement, rows, stop - first, last + 1 - first)
    except BaseException:
        writer.abort()
        raise
    writer.finish()
    if progress is not None:
        progress.write("\n")
    return rows


def show_progress(stream: TextIO | None, name: str, rows: int, done: int, total: int) -> None:
    if stream is None:
        return
    percent = 100.0 * done / total if total else 100.0
    stream.write(f"\rexport {name}: {percent:5.1f}%  {rows:,} rows")
    stream.flush()
