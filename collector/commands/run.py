"""``tesla-energy run``: the collector daemon, or one cycle with ``--once``."""

from __future__ import annotations

import argparse

from collector.commands.common import settings_from


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "run",
        help="run the collector daemon",
        description="Poll live_status, snapshot site_info, refresh recent history and fill "
        "gaps on the configured intervals until SIGTERM/SIGINT.",
    )
    parser.add_argument("--once", action="store_true", help="run every job once and exit")
    parser.add_argument("--dry-run", action="store_true",
                        help="with --once: print line protocol instead of writing to InfluxDB")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.dry_run and not args.once:
        from collector.errors import UsageError

        raise UsageError("--dry-run needs --once (the daemon always writes)")
    settings = settings_from(args)
    from collector import app  # heavy (pandas, httpx): only once the arguments are valid

    daemon = app.build(settings, dry_run=args.dry_run, wait_for_api=not args.once,
                       one_shot=args.once)
    try:
        if args.once:
            written = app.run_once(daemon)
            if not args.dry_run:
                print(f"wrote {written} points")
            return 0
        return app.run_forever(daemon, settings)
    finally:
        daemon.close()
