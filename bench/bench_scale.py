"""Scale benchmark (issue 15): one run prints every figure against its target, side by side.

1. poll: ``--polls`` live polls back to back through the daemon's live path (client, orjson,
   normalization, line protocol, background writer batching across sites, InfluxDB write),
   with the simulator's clock sped up so every poll is a new sample: process CPU per poll
   and RSS growth over the measured polls (VmRSS after them minus before, both after a
   flush), after ``--warmup-polls``, beside the largest write backlog of each phase: RSS keeps
   the memory of the largest backlog of lines that waited for InfluxDB so far (the allocators
   reuse it, rarely return it), so it grows in steps while a backlog beats every earlier one
   and then stays flat;
2. fleet: the scheduled daemon (``tesla-energy run``'s wiring: background writer, live
   threads, phased groups) with ``--sites`` sites at a ``--interval`` s live interval for
   ``--seconds`` after one warm-up interval: live polls expected vs completed, misses (the
   daemon's own ``collector.cadence`` count), the share of one core the collector process
   used and its RSS;
3. import: a one-year energy import of one site, one day at a time (request, parse,
   normalize, serialize, write): process CPU per imported day, the median of
   ``--import-runs`` imports (the same code measures a third apart from one minute to the next
   on a shared 2-core machine, so one run is not a figure); and the whole ``backfill``
   command at ``--import-rate`` (which also prices every bucket and updates battery health).

The simulators run in their own processes and InfluxDB (a real influxd) in its own, so only
the collector's CPU is counted; on a 2-core machine they still share the CPU with it, so the
figures are upper bounds. The first and last lines time a fixed workload that does not depend
on the collector's code (``machine_reference_ms``): on a shared virtual machine the same code
measures up to twice as slow from one hour to the next, and this says how fast the machine was
during the run, so figures of two runs compare only when their references match.
Run: ``.venv/bin/python bench/bench_scale.py [--seconds 600]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_backfill  # noqa: E402
from bench_daemon import SIM_START, rss_mb, settings_for, start_simulator  # noqa: E402

from collector import app  # noqa: E402
from collector.log import configure_logging  # noqa: E402
from tests.support import InfluxServer  # noqa: E402

TARGETS = {"missed": 0, "cpu_share": 0.5, "poll_ms": 1.5, "day_ms": 5.0, "rss_growth_mb": 2.0}


def verdict(value: float, target: float, inclusive: bool = False) -> str:
    ok = value <= target if inclusive else value < target
    return "PASS" if ok else "MISS"


def machine_reference_ms(runs: int = 5) -> float:
    """CPU ms of a fixed workload of the kinds an import does (JSON, dicts, strings, numpy),
    independent of the collector's code: the median of ``runs``."""
    import numpy as np

    record = {f"field_{i}": i * 7.25 for i in range(21)} | {"timestamp": "2026-06-01T08:20:00"}
    text = json.dumps([record] * 300)
    times = []
    for _ in range(runs):
        started = time.process_time()
        for _ in range(20):
            rows = json.loads(text)
            matrix = np.array([[r[f"field_{i}"] for i in range(21)] for r in rows])
            "\n".join(",".join(map(repr, row)) for row in matrix.tolist())
        times.append((time.process_time() - started) * 1000)
    return statistics.median(times)


def reference_line(when: str) -> str:
    return (f"machine reference ({when}; a fixed workload, not the collector's code; compare "
            f"runs only when it matches): {machine_reference_ms():.1f} ms CPU")


def sim_clock() -> float:
    """The collector's clock at the simulator's time (the simulator lives in 2024)."""
    return SIM_START.timestamp() + (time.time() - STARTED)


STARTED = time.time()


def fleet(server: InfluxServer, sites: int, interval: float, seconds: float) -> list[str]:
    proc, base, auth = start_simulator(sites, speed=1)
    try:
        with tempfile.TemporaryDirectory() as state:
            db = server.create_database("scale_fleet")
            settings = settings_for(server, db, Path(state), base, auth, live=interval)
            daemon = app.build(settings, clock=sim_clock)
            writer = app.write_in_background(daemon, settings)
            daemon.schedule()
            stop = threading.Event()
            runner = threading.Thread(target=daemon.run_until_stopped, args=(stop,))
            runner.start()
            time.sleep(interval + 2)  # the first round: every group once, site_info, history
            cadence = daemon.collector.cadence
            c0, t0, before = time.process_time(), time.perf_counter(), cadence.counts()
            time.sleep(seconds)
            c1, t1, after = time.process_time(), time.perf_counter(), cadence.counts()
            rss = rss_mb()
            stop.set()
            runner.join(30)
            writer.close()
            daemon.close()
    finally:
        proc.terminate()
    share = (c1 - c0) / (t1 - t0)
    expected = after.expected - before.expected
    completed = after.completed - before.completed
    missed = after.missed - before.missed
    clock_expected = sites * (t1 - t0) / interval
    return [
        f"fleet: {sites:,} sites, live every {interval:g} s, measured {t1 - t0:.0f} s after a "
        f"{interval + 2:.0f} s first round",
        f"  live polls expected {expected:,} (sites x seconds / interval: {clock_expected:,.0f})"
        f", completed {completed:,}, missed {missed:,}   target 0 missed   "
        f"{verdict(missed, TARGETS['missed'], inclusive=True)}",
        f"  CPU share of one core (collector process, all jobs): {share:.3f}   target < "
        f"{TARGETS['cpu_share']}   {verdict(share, TARGETS['cpu_share'])}",
        f"  RSS at the end: {rss:.0f} MB",
    ]


POLL_SPEED = 2000.0  # simulated seconds per second: every poll sees a new sample


def polls(server: InfluxServer, count: int, sites: int, warmup_polls: int) -> list[str]:
    proc, base, auth = start_simulator(sites, speed=POLL_SPEED)
    started = time.time()

    def clock() -> float:  # the collector follows the fast simulated time
        return SIM_START.timestamp() + (time.time() - started) * POLL_SPEED

    try:
        with tempfile.TemporaryDirectory() as state:
            db = server.create_database("scale_poll")
            settings = settings_for(server, db, Path(state), base, auth)
            daemon = app.build(settings, clock=clock)
            writer = app.write_in_background(daemon, settings)
            collector, group = daemon.collector, daemon.sites
            rounds = max(1, count // len(group))
            warmup = max(1, warmup_polls // len(group))
            for _ in range(warmup):
                collector.poll_live(group)
            writer.flush(30)
            warm_peak = writer.take_peak_points()
            c0, r0 = time.process_time(), rss_mb()
            for _ in range(rounds):
                collector.poll_live(group)
            writer.flush(60)
            cpu, growth = time.process_time() - c0, rss_mb() - r0
            peak = writer.take_peak_points()
            writer.close()
            written = server.query('SELECT count("load_power") FROM "live_status"', db=db)
            daemon.close()
    finally:
        proc.terminate()
    measured = rounds * len(group)
    per_poll = cpu / measured * 1000
    scaled = growth * 100_000 / measured
    return [
        f"poll: {measured:,} live polls of {len(group)} sites after {warmup * len(group):,} "
        f"warm-up polls; points in InfluxDB: {int(written[0]['count']):,}",
        f"  CPU per live poll per site (process, writer thread included): {per_poll:.2f} ms"
        f"   target < {TARGETS['poll_ms']} ms   {verdict(per_poll, TARGETS['poll_ms'])}",
        f"  RSS growth: {growth:+.2f} MB over {measured:,} polls (= {scaled:+.2f} MB per "
        f"100,000)   target < {TARGETS['rss_growth_mb']} MB   "
        f"{verdict(scaled, TARGETS['rss_growth_mb'])}",
        f"  most points waiting for InfluxDB at once: {warm_peak:,} in the warm-up, {peak:,} "
        "in the measured polls (RSS keeps the largest backlog's memory: it grows in steps "
        "when a backlog exceeds every earlier one)",
    ]


def imports(rate: float, concurrency: int, runs: int) -> list[str]:
    helper = subprocess.Popen([sys.executable, bench_backfill.__file__, "--serve",
                               "--latency-ms", "0"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        endpoints = json.loads(helper.stdout.readline())
        pipelines = [bench_backfill.sequential_import(endpoints, bench_backfill.DATABASES[2])
                     for _ in range(runs)]
        command = bench_backfill.concurrent_import(endpoints, bench_backfill.DATABASES[1], rate,
                                                   concurrency)
    finally:
        helper.stdin.close()
        helper.wait(timeout=60)
    days = bench_backfill.DAYS
    each = sorted(p.cpu / days * 1000 for p in pipelines)
    per_day = statistics.median(each)
    target = "real influxd" if endpoints.get("server") else "dry-run sink (no influxd)"
    return [
        f"import: {days} days of energy_history of 1 site, writes to {target}",
        f"  CPU per imported day (request, parse, normalize, serialize, write; one day at a "
        f"time; median of {runs} imports, {each[0]:.2f} to {each[-1]:.2f}): {per_day:.2f} ms   "
        f"target < {TARGETS['day_ms']} ms   {verdict(per_day, TARGETS['day_ms'])}",
        f"  the whole backfill command ({rate:g} req/s, {concurrency} in flight; adds the "
        f"energy_cost of every bucket and battery health): {command.cpu / days * 1000:.2f} ms "
        f"per day, {command.wall:.1f} s wall",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=90.0,
                        help="fleet measurement after the first interval")
    parser.add_argument("--polls", type=int, default=100_000)
    parser.add_argument("--poll-sites", type=int, default=50)
    parser.add_argument("--warmup-polls", type=int, default=20_000,
                        help="polls before the measured ones (the heap settles)")
    parser.add_argument("--parts", default="poll,fleet,import",
                        help="comma-separated parts to run (poll, fleet, import)")
    parser.add_argument("--import-rate", type=float, default=100.0)
    parser.add_argument("--import-concurrency", type=int, default=4)
    parser.add_argument("--import-runs", type=int, default=3,
                        help="one-day-at-a-time imports measured (the median is the figure: "
                             "on a shared machine one run can be a third slower than the next)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    log_path = Path(tempfile.gettempdir()) / "bench_scale.log"
    with log_path.open("w") as log:
        configure_logging("warning", "json", stream=log)
        with tempfile.TemporaryDirectory() as root:
            server = InfluxServer(root=Path(root)).start()
            try:
                show([f"influxd {server.version}; Python {sys.version.split()[0]}; simulators "
                      "and influxd in their own processes, sharing this machine's "
                      f"{os.cpu_count()} cores; collector log: {log_path}",
                      reference_line("at the start")])
                # Polls first: their RSS growth is not blurred by the fleet run's threads.
                if "poll" in parts:
                    show(polls(server, args.polls, args.poll_sites, args.warmup_polls))
                if "fleet" in parts:
                    show(fleet(server, args.sites, args.interval, args.seconds))
            finally:
                server.close()
        if "import" in parts:
            show(imports(args.import_rate, args.import_concurrency, max(1, args.import_runs)))
        show([reference_line("at the end")])


def show(lines: list[str]) -> None:
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
