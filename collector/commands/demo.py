"""``tesla-energy demo``: the whole product against the built-in simulated site.

Starts the simulator in-process, imports its last days of history, then runs the daemon
against it, writing to the configured InfluxDB (any 1.x natively, 2.x, 3). A refusing InfluxDB
(wrong token, missing database) stops it at start with one line; without a reachable one it
says so once and keeps collecting into the spool until one answers.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
from datetime import UTC, datetime, timedelta

from collector.commands.common import listen_error, settings_from, tcp_port
from collector.config import Secret, Settings, is_ascii_digits
from collector.log import get_logger

log = get_logger(__name__)
DEMO_TOKEN = "demo-access-token"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the collector against the built-in simulated site",
        description="Start a simulated Tesla energy site in-process, import its last days of "
        "history and run the daemon against it. InfluxDB settings come from the "
        "configuration as usual; Tesla settings are replaced by the simulator's.",
    )
    parser.add_argument("--sites", type=_positive, default=1, help="simulated sites (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="simulation seed (default 1)")
    parser.add_argument("--days", type=_non_negative, default=7,
                        help="days of history to import first (default 7; 0 = none)")
    parser.add_argument("--port", type=tcp_port, default=0,
                        help="simulator port (default: a free port)")
    parser.add_argument("--view", action="store_true",
                        help="show each site's power flow as stored in InfluxDB, redrawn in "
                        "place on a terminal (one line per update otherwise)")
    parser.set_defaults(handler=handle)


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _non_negative(text: str) -> int:
    if not is_ascii_digits(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return int(text)


def demo_settings(settings: Settings, base_url: str, auth_url: str) -> Settings:
    """The configuration with its Tesla part pointing at the simulator."""
    tesla = dataclasses.replace(
        settings.tesla, api_url=base_url, auth_url=auth_url, access_token=Secret(DEMO_TOKEN),
        refresh_token=Secret(""), site_ids=(), token_file=None,
    )
    collector = dataclasses.replace(settings.collector,
                                    state_dir=settings.collector.state_dir / "demo")
    return dataclasses.replace(settings, tesla=tesla, collector=collector)


def handle(args: argparse.Namespace) -> int:
    from collector.sim import SimConfig, SimServer

    base = settings_from(args)
    # SIGTERM before the daemon runs (while importing history) stops like Ctrl-C: exit 130.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    sim = SimServer(SimConfig(sites=args.sites, seed=args.seed, port=args.port))
    try:
        sim.start()
    except OSError as exc:
        signal.signal(signal.SIGTERM, previous)
        raise listen_error("127.0.0.1", args.port, exc) from None
    try:
        settings = demo_settings(base, sim.base_url, sim.auth_url)
        print(f"simulated site(s) at {sim.base_url}; writing to InfluxDB at {settings.influx.url}",
              flush=True)
        return _collect(settings, args)
    finally:
        sim.stop()
        signal.signal(signal.SIGTERM, previous)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _collect(settings: Settings, args: argparse.Namespace) -> int:
    """Import the last ``--days`` of history, then run the daemon (with the view) until
    stopped."""
    from collector import app
    from collector.backfill import Scope, run_backfill
    from collector.flowview import FlowView

    daemon = app.build(settings)
    view = None
    try:
        sink = daemon.collector.sink  # probed: refused -> exit 2, unreachable -> said once
        if args.days:
            today = datetime.now(UTC).date()
            scope = Scope(start=today - timedelta(days=args.days), end=today)
            run_backfill(daemon.collector.client, sink, [s.site_id for s in daemon.sites],
                         scope, concurrency=settings.backfill.concurrency)
        if args.view:
            view = FlowView(sink, sys.stdout).start()
        return app.run_forever(daemon, settings)
    finally:
        if view is not None:
            view.stop()
        daemon.close()
