"""Backfill benchmark: a one-year energy import against the simulator with a fixed latency.

Prints, side by side from one run:

  (a)  wall time of the import at the default settings (backfill.concurrency and
       backfill.requests_per_second), and again at a faster request budget (--rate/--concurrency,
       because at the default 5 req/s a year cannot be faster than 73 s),
  (b)  the same import fetched strictly one day at a time (request, parse, write, next day),
       the way today's tools do it,
  (c)  the floor set by the latency and the request budget: max(days / rate,
       days * latency / concurrency),
  (d)  local CPU time per imported day (this process's CPU time / days) and local overhead
       (CPU time as % of wall time).

The simulator and influxd run in a helper subprocess (``--serve``), so this process's CPU time
is only the collector's: client, parsing, transform, line protocol and the InfluxDB writes.
Writes go to a real influxd when one is installed (natively through its ``/write``, as the
product writes every 1.x), else to the dry-run line-protocol sink writing to /dev/null; the
output says which. Run: ``.venv/bin/python bench/bench_backfill.py [--latency-ms 150]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collector.backfill import Scope, run_backfill  # noqa: E402
from collector.backfill.convert import convert, fetch  # noqa: E402
from collector.backfill.site import resolve_site  # noqa: E402
from collector.backfill.windows import plan_kind  # noqa: E402
from collector.config import BackfillSettings, Secret, Settings, TeslaSettings  # noqa: E402
from collector.log import configure_logging  # noqa: E402
from collector.source import RateLimiter, build_client  # noqa: E402

DAYS = 365
ZONE = "America/Los_Angeles"
DATABASES = ("bench_default", "bench_fast", "bench_sequential")


# --- the helper subprocess: simulator + influxd -------------------------------------------


def serve(latency_ms: float) -> None:
    """Start the simulator (and influxd when installed), warm the model, print the endpoints
    as one JSON line, and keep serving until stdin closes."""
    from collector.sim import FaultConfig, SimConfig, SimServer

    installed = date.today() - timedelta(days=DAYS + 30)
    sim = SimServer(SimConfig(sites=1, seed=3, time_zone=ZONE, installation_date=installed,
                              faults=FaultConfig(latency_ms=latency_ms))).start()
    site_id = sim.site_ids[0]
    for offset in range(DAYS + 31):  # compute every simulated day before timing anything
        sim.energy_rows(site_id, installed + timedelta(days=offset))
    influx = _start_influx()
    print(json.dumps({"sim_url": sim.base_url, "auth_url": sim.auth_url, "site_id": site_id,
                      **influx}), flush=True)
    sys.stdin.read()
    sim.stop()
    if influx.get("server"):
        _SERVERS[0].close()


_SERVERS: list[Any] = []


def _start_influx() -> dict[str, Any]:
    try:
        from tests.support import InfluxdMissing, InfluxServer
    except ImportError:
        return {}
    try:
        server = InfluxServer().start()
    except (InfluxdMissing, RuntimeError) as exc:
        return {"influx_problem": str(exc)[:200]}
    _SERVERS.append(server)
    for name in DATABASES:
        server.create_database(name)
    return {"server": True, "influx_url": server.url, "influx_version": server.version}


# --- the measured side -------------------------------------------------------------------


@dataclass
class Measured:
    wall: float
    cpu: float
    requests: int
    rate_limited: int


def measure(action: Callable[[], Any], client: Any) -> Measured:
    before = client.metrics.totals()
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    after = client.metrics.totals()

    def total(name: str) -> int:
        return sum(getattr(s, name) for s in after.values()) - sum(
            getattr(s, name) for s in before.values())

    return Measured(wall, cpu, total("requests"), total("rate_limited"))


def settings_for(endpoints: dict[str, Any], database: str, state_dir: Path) -> Settings:
    from collector.config import CollectorSettings, InfluxSettings

    tesla = TeslaSettings(api_url=endpoints["sim_url"], auth_url=endpoints["auth_url"],
                          access_token=Secret("bench-access-token"))
    influx = InfluxSettings(url=endpoints.get("influx_url", "http://127.0.0.1:9"), org="-",
                            bucket=f"{database}/autogen")
    return Settings(tesla=tesla, influx=influx, collector=CollectorSettings(state_dir=state_dir))


def make_sink(endpoints: dict[str, Any], settings: Settings) -> Any:
    from collector.sink import InfluxSink, LineProtocolPrinter

    if endpoints.get("server"):
        return InfluxSink(settings)
    return LineProtocolPrinter(open(os.devnull, "w"))  # noqa: SIM115 - closed with the process


def concurrent_import(endpoints: dict[str, Any], database: str, rate: float,
                      concurrency: int) -> Measured:
    with tempfile.TemporaryDirectory() as state:
        settings = settings_for(endpoints, database, Path(state))
        sink = make_sink(endpoints, settings)
        with build_client(settings, limiter=RateLimiter(rate)) as client:
            today = datetime.now(UTC).astimezone(_zone()).date()
            scope = Scope(start=today - timedelta(days=DAYS - 1), end=today, kinds=("energy",))

            def action() -> None:
                summary = run_backfill(client, sink, [endpoints["site_id"]], scope,
                                       concurrency=concurrency)
                assert summary.ok and summary.total("days") == DAYS, summary

            result = measure(action, client)
        sink.close()
    return result


def sequential_import(endpoints: dict[str, Any], database: str) -> Measured:
    """One day at a time: request, parse, write, then the next day (no overlap at all)."""
    with tempfile.TemporaryDirectory() as state:
        settings = settings_for(endpoints, database, Path(state))
        sink = make_sink(endpoints, settings)
        with build_client(settings) as client:

            def action() -> None:
                site = resolve_site(client, endpoints["site_id"], "")
                today = datetime.now(UTC).astimezone(site.zone).date()
                windows = plan_kind(site.site_id, "energy", today - timedelta(days=DAYS - 1),
                                    today, site.zone)
                for win in reversed(windows):
                    sink.write(convert(win, fetch(client, win, site.zone_name), site.zone).lines)

            result = measure(action, client)
        sink.close()
    return result


def _zone() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(ZONE)


def floor_seconds(rate: float, concurrency: int, latency_s: float) -> float:
    return max(DAYS / rate, DAYS * latency_s / concurrency)


def report(rows: list[tuple[str, Measured, float | None]], sequential: Measured) -> list[str]:
    lines = [f"{'run':44} {'wall s':>8} {'floor s':>8} {'wall/floor':>10} {'vs (b)':>7} "
             f"{'requests':>8} {'429s':>5} {'CPU s':>7} {'CPU ms/day':>10} {'overhead':>8}"]
    for label, m, floor in rows:
        ratio = f"{m.wall / floor:10.2f}" if floor else f"{'-':>10}"
        floor_text = f"{floor:8.1f}" if floor else f"{'-':>8}"
        lines.append(
            f"{label:44} {m.wall:8.1f} {floor_text} {ratio} {sequential.wall / m.wall:6.1f}x "
            f"{m.requests:8} {m.rate_limited:5} {m.cpu:7.2f} {m.cpu / DAYS * 1000:10.2f} "
            f"{m.cpu / m.wall:8.1%}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--rate", type=float, default=50.0, help="the faster budget (req/s)")
    parser.add_argument("--concurrency", type=int, default=12, help="for the faster budget")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.latency_ms)
        return 0
    configure_logging("warning", "json")
    helper = subprocess.Popen([sys.executable, __file__, "--serve", "--latency-ms",
                               str(args.latency_ms)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        endpoints = json.loads(helper.stdout.readline())
        return run_all(endpoints, args)
    finally:
        helper.stdin.close()
        helper.wait(timeout=60)


def run_all(endpoints: dict[str, Any], args: argparse.Namespace) -> int:
    defaults = BackfillSettings()
    latency = args.latency_ms / 1000
    sink_text = (f"real influxd {endpoints['influx_version']} at {endpoints['influx_url']}"
                 if endpoints.get("server") else
                 f"dry-run line-protocol sink to /dev/null ({endpoints.get('influx_problem')})")
    print(f"backfill bench: {DAYS} days of energy_history (1 request per local day, "
          f"{ZONE}), simulator latency {args.latency_ms:.0f} ms/request, writes to {sink_text}")
    default_run = concurrent_import(endpoints, DATABASES[0], defaults.requests_per_second,
                                    defaults.concurrency)
    fast_run = concurrent_import(endpoints, DATABASES[1], args.rate, args.concurrency)
    sequential = sequential_import(endpoints, DATABASES[2])
    rows = [
        (f"(a) defaults: {defaults.concurrency} in flight, {defaults.requests_per_second:g} req/s",
         default_run, floor_seconds(defaults.requests_per_second, defaults.concurrency, latency)),
        (f"(a) --rate {args.rate:g} --concurrency {args.concurrency}", fast_run,
         floor_seconds(args.rate, args.concurrency, latency)),
        ("(b) one day at a time, sequential", sequential, DAYS * latency),
    ]
    for line in report(rows, sequential):
        print(line)
    print("(c) floor = max(days / rate, days * latency / concurrency); (b)'s floor is "
          "days * latency. (d) CPU = this process's CPU time (simulator and influxd run in "
          "another process); overhead = CPU time / wall time.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
