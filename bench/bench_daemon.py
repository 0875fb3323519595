"""Daemon benchmark: CPU per poll, memory over a long run, poll-to-write latency, 200-site load.

Runs the real collector (source -> transform -> sink) against the simulator in a separate
process (so its CPU and memory are not counted) and a real influxd started here.

Part 1 polls ``--sites`` sites back to back for ``--polls`` site polls, with the simulator's
clock sped up so every poll sees a new sample; it prints the collector thread's CPU time per
site poll, peak RSS, RSS growth after warm-up, and poll-to-write latency p50/p99.
Part 2 runs the scheduled daemon for ``--load-seconds`` with ``--load-sites`` sites at a
``--load-interval`` live interval and prints the share of one core it used in steady state.

    .venv/bin/python bench/bench_daemon.py [--polls 100000] [--sites 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import resource
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collector import app  # noqa: E402
from collector.config import IntervalSettings, Secret, TeslaSettings  # noqa: E402
from collector.log import configure_logging  # noqa: E402
from tests.support import InfluxServer, make_settings  # noqa: E402

SIM_START = datetime(2024, 6, 12, 6, 0, tzinfo=UTC)


def _serve(sites: int, speed: float, urls: multiprocessing.Queue) -> None:
    from collector.sim import SimClock, SimConfig, SimServer

    # Installed shortly before the start: the simulator carries each battery's charge day by
    # day from installation, which would otherwise dominate its start-up for 200 sites.
    installed = (SIM_START - timedelta(days=10)).date()
    config = SimConfig(sites=sites, seed=5, installation_date=installed,
                       clock=SimClock(SIM_START, speed=speed))
    with SimServer(config) as sim:
        urls.put((sim.base_url, sim.auth_url))
        sim.serve_forever()


def start_simulator(sites: int, speed: float) -> tuple[multiprocessing.Process, str, str]:
    urls: multiprocessing.Queue = multiprocessing.Queue()
    proc = multiprocessing.Process(target=_serve, args=(sites, speed, urls), daemon=True)
    proc.start()
    base, auth = urls.get(timeout=30)
    return proc, base, auth


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def settings_for(server: InfluxServer, db: str, state: Path, base: str, auth: str,
                 live: float = 10.0):
    settings = make_settings(server.url, db, state)
    tesla = TeslaSettings(api_url=base, auth_url=auth, access_token=Secret("bench-token"))
    return dataclasses.replace(settings, tesla=tesla,
                               intervals=IntervalSettings(live_seconds=live))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def poll_benchmark(server: InfluxServer, polls: int, sites: int) -> None:
    proc, base, auth = start_simulator(sites, speed=2000)
    try:
        with tempfile.TemporaryDirectory() as state:
            db = server.create_database("bench_poll")
            settings = settings_for(server, db, Path(state), base, auth)
            daemon = app.build(settings, clock=lambda: SIM_START.timestamp())
            collector, group = daemon.collector, daemon.sites
            started: dict[int, float] = {}
            real_live = collector.client.live_status

            def timed_live(site_id: int):
                started[site_id] = time.perf_counter()
                return real_live(site_id)

            collector.client.live_status = timed_live
            rounds = max(1, polls // len(group))
            warmup = max(1, rounds // 20)
            latencies: list[float] = []
            cpu_start = rss_after_warmup = 0.0
            for number in range(rounds):
                if number == warmup:
                    cpu_start, rss_after_warmup = time.thread_time(), rss_mb()
                collector.poll_live(group)
                done = time.perf_counter()
                if number >= warmup:
                    latencies.extend(done - t for t in started.values())
            cpu = time.thread_time() - cpu_start
            measured = (rounds - warmup) * len(group)
            written = server.query('SELECT count("load_power") FROM "live_status"', db=db)
            daemon.close()
    finally:
        proc.terminate()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"part 1: {measured:,} live polls of {len(group)} sites measured "
          f"(after {warmup * len(group):,} warm-up polls); points in InfluxDB: "
          f"{int(written[0]['count']):,}")
    print(f"  CPU per site poll (collector thread): {cpu / measured * 1000:.2f} ms "
          f"(target < 5 ms)")
    print(f"  peak RSS: {peak:.1f} MB; RSS growth after warm-up: "
          f"{rss_mb() - rss_after_warmup:+.2f} MB over {measured:,} polls (target < 5 MB)")
    print(f"  poll-to-write latency: p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
          f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms")


def live_polls(daemon) -> int:
    stats = daemon.collector.client.metrics.totals().get("live_status")
    return stats.requests if stats else 0


def load_benchmark(server: InfluxServer, sites: int, interval: float, seconds: float) -> None:
    proc, base, auth = start_simulator(sites, speed=1)
    try:
        with tempfile.TemporaryDirectory() as state:
            db = server.create_database("bench_load")
            settings = settings_for(server, db, Path(state), base, auth, live=interval)
            daemon = app.build(settings)
            writer = app.write_in_background(daemon, settings)  # as `tesla-energy run` does
            daemon.schedule()
            stop = threading.Event()
            runner = threading.Thread(target=daemon.run_until_stopped, args=(stop,))
            t0, c0 = time.perf_counter(), time.process_time()
            runner.start()
            time.sleep(interval + 5)  # first round: site_info, history, gap fill
            t1, c1, p1 = time.perf_counter(), time.process_time(), live_polls(daemon)
            time.sleep(seconds)
            t2, c2, p2 = time.perf_counter(), time.process_time(), live_polls(daemon)
            stop.set()
            runner.join(30)
            writer.close()
            polls = live_polls(daemon)
            daemon.close()
    finally:
        proc.terminate()
    print(f"part 2: {sites} sites, live every {interval:.0f} s, {polls:,} live polls in "
          f"{t2 - t0:.0f} s")
    print(f"  start-up round (site_info + history + gap fill for every site): "
          f"{(c1 - c0) / (t1 - t0):.3f} of one core over {t1 - t0:.0f} s")
    print(f"  steady state: {(c2 - c1) / (t2 - t1):.3f} of one core over {t2 - t1:.0f} s "
          f"(target < 0.25); {p2 - p1:,} live polls, "
          f"{sites * (t2 - t1) / interval:,.0f} expected at the interval")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=5)
    parser.add_argument("--load-sites", type=int, default=200)
    parser.add_argument("--load-interval", type=float, default=30.0)
    parser.add_argument("--load-seconds", type=float, default=90.0)
    args = parser.parse_args()
    configure_logging("warning", "console")
    with tempfile.TemporaryDirectory() as root:
        server = InfluxServer(root=Path(root)).start()
        try:
            print(f"influxd {server.version}; Python {sys.version.split()[0]}")
            poll_benchmark(server, args.polls, args.sites)
            load_benchmark(server, args.load_sites, args.load_interval, args.load_seconds)
        finally:
            server.close()


if __name__ == "__main__":
    main()
