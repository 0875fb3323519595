"""``tesla-energy simulate``: run the simulated Fleet API until Ctrl-C / SIGTERM.

Parses the arguments into a ``SimConfig``, starts ``SimServer`` and prints the URLs to point
the collector at. Only argument handling and the process lifecycle live here.
"""

from __future__ import annotations

import argparse
import signal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collector.commands.common import listen_error, tcp_port
from collector.config import ascii_number, is_ascii_digits
from collector.errors import UsageError
from collector.sim import SimConfig, SimServer, parse_fault_spec


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "simulate",
        help="serve simulated energy sites on a Fleet-API-compatible HTTP server",
        description="Serve simulated Powerwall/solar/Wall Connector sites with the Fleet API's "
        "paths and JSON shapes (and an OAuth token endpoint) until Ctrl-C.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=tcp_port, default=8080, help="TCP port (0 = any free port)")
    parser.add_argument("--sites", type=_count, default=1, help="number of sites (default 1)")
    parser.add_argument("--solar-only", type=_small_count, default=0, metavar="N",
                        help="the last N sites have solar panels but no Powerwall (default 0)")
    parser.add_argument("--v1-tariff", type=_small_count, default=0, metavar="N",
                        help="the last N Powerwall sites report their tariff in the older v1 "
                        "tariff_content shape (default 0)")
    parser.add_argument("--time-zone", type=_zone, help="IANA zone of the first site "
                        "(default America/Los_Angeles)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated weather, "
                        "load, outages and charging (default 0)")
    parser.add_argument("--faults", type=_faults, help="fault injection, e.g. "
                        "'rate_limit=10/60,error=5,timeout=2%%,malformed=7' (default none)")
    parser.add_argument("--latency-ms", type=_latency, default=0.0,
                        help="added latency per API request in ms")
    parser.add_argument("--token", help="accept only this bearer token (and tokens issued by "
                        "the simulator's OAuth endpoint); default: any non-empty token")
    parser.set_defaults(handler=handle)


def _count(text: str) -> int:
    if not is_ascii_digits(text) or not 1 <= int(text) <= 50:
        raise argparse.ArgumentTypeError(f"{text!r} is not a site count 1-50")
    return int(text)


def _small_count(text: str) -> int:
    if not is_ascii_digits(text) or int(text) > 50:
        raise argparse.ArgumentTypeError(f"{text!r} is not a site count 0-50")
    return int(text)


def _zone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not an IANA time zone") from None
    return text


def _faults(text: str) -> Any:
    try:
        return parse_fault_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _latency(text: str) -> float:
    try:
        value = ascii_number(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a latency in ms (>= 0)")
    return value


def build_config(args: argparse.Namespace) -> SimConfig:
    faults = args.faults.with_changes(latency_ms=args.latency_ms) if args.faults else None
    if faults is None and args.latency_ms:
        faults = parse_fault_spec("", latency_ms=args.latency_ms)
    if args.solar_only + args.v1_tariff > args.sites:
        raise UsageError(f"--solar-only {args.solar_only} and --v1-tariff {args.v1_tariff} "
                         f"need at least {args.solar_only + args.v1_tariff} --sites, not "
                         f"{args.sites}")
    return SimConfig(sites=args.sites, seed=args.seed, time_zone=args.time_zone,
                     token=args.token or None, host=args.host, port=args.port, faults=faults,
                     solar_only=args.solar_only, v1_tariff=args.v1_tariff)


def _describe(site_id: int, spec: Any) -> str:
    extra = ", solar only" if spec.solar_only else (", v1 tariff" if spec.tariff_format == "v1"
                                                    else "")
    return f"{site_id} ({spec.time_zone}{extra})"


def handle(args: argparse.Namespace) -> int:
    sim = SimServer(build_config(args))
    try:
        sim.start()
    except OSError as exc:
        raise listen_error(args.host, args.port, exc) from None
    stops = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.signal(sig, lambda *_: sim.stopping.set()) for sig in stops}
    print(f"simulated Fleet API: {sim.base_url}", flush=True)
    print(f"OAuth token URL:     {sim.auth_url}", flush=True)
    print(f"sites: {', '.join(_describe(i, m.spec) for i, m in sim.sites.items())}", flush=True)
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
