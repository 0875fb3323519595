"""Cost benchmark: what pricing energy buckets costs, side by side with the import itself.

Prints, from one run:

  (a)  CPU time to price a year of 5-minute buckets of one site (105,000+ buckets of the
       simulator's America/Los_Angeles site, its time-of-use tariff): the computation alone
       (prices, costs, daily and demand charges; target < 100 ms), and with the serialization
       of the energy_cost points, next to the import's own transform + serialization of the
       same year;
  (b)  a one-year energy backfill against the simulator into a real influxd, once without a
       tariff (no cost) and once with it (energy_cost at ingest plus the settling of charges
       at the end): this process's CPU time for each, and the overhead cost adds (target
       < 10 % of the import's CPU).

The simulator and influxd run in a helper subprocess (``bench_backfill.py --serve`` with no
latency), so the CPU time measured here is only the collector's. CPU figures are medians of
``--repeat`` runs (in (b) alternating between the two sides).
Run: ``.venv/bin/python bench/bench_cost.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import pandas as pd  # noqa: E402
from bench_backfill import DATABASES, DAYS, ZONE, make_sink, settings_for  # noqa: E402

from collector.backfill import Scope, plan, resolve_sites, run_windows  # noqa: E402
from collector.cost.charges import charges_frame, daily_points, demand_points  # noqa: E402
from collector.cost.compute import bucket_costs, energy_cost_frame  # noqa: E402
from collector.cost.timeline import SNAPSHOT, TariffVersion, Timeline  # noqa: E402
from collector.log import configure_logging  # noqa: E402
from collector.sim import SimConfig, SimServer  # noqa: E402
from collector.sim.tariff import default_tariff  # noqa: E402
from collector.source import RateLimiter, build_client  # noqa: E402
from collector.transform import energy_history_frame, to_line_protocol  # noqa: E402

WITH_COST, WITHOUT_COST = DATABASES[0], DATABASES[1]


def cpu_ms(action: Callable[[], Any], repeat: int) -> float:
    """Median CPU time of ``action`` in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        action()
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times)


# --- (a) pricing a year, in process -------------------------------------------------------


def year_of_replies() -> list[dict[str, Any]]:
    installed = date.today() - timedelta(days=DAYS + 30)
    sim = SimServer(SimConfig(sites=1, seed=3, time_zone=ZONE, installation_date=installed))
    site = sim.site_ids[0]
    first = date.today() - timedelta(days=DAYS)
    return [{"time_series": sim.energy_rows(site, first + timedelta(days=i))}
            for i in range(DAYS)]


def pricing_a_year(repeat: int) -> list[str]:
    replies = year_of_replies()
    line = Timeline([TariffVersion(0, SNAPSHOT, default_tariff())])
    frames = [energy_history_frame(r, 1) for r in replies]
    year = pd.concat([f.data for f in frames])

    def compute() -> Any:
        costs = bucket_costs(year, line, ZONE)
        return costs, daily_points(costs, ZONE), demand_points(costs, ZONE)

    def compute_and_serialize() -> None:
        costs, daily, demand = compute()
        to_line_protocol(energy_cost_frame(costs, 1))
        to_line_protocol(charges_frame(pd.concat([daily, demand]), 1))

    def import_transform() -> None:
        for reply in replies:
            to_line_protocol(energy_history_frame(reply, 1))

    compute_ms = cpu_ms(compute, repeat)
    both_ms = cpu_ms(compute_and_serialize, repeat)
    import_ms = cpu_ms(import_transform, repeat)
    return [
        f"(a) pricing a year: {len(year):,} buckets of one site ({ZONE}, time-of-use tariff)",
        f"    cost computation (prices, costs, daily + demand charges): {compute_ms:7.1f} ms "
        "CPU (target < 100 ms)",
        f"    computation + energy_cost/charges line protocol:           {both_ms:7.1f} ms CPU",
        f"    for scale, the import's own transform + line protocol:     {import_ms:7.1f} ms CPU",
    ]


# --- (b) a backfill with and without cost ----------------------------------------------------


def backfill_cpu(endpoints: dict[str, Any], database: str, priced: bool) -> tuple[float, int]:
    """(process CPU seconds, energy_cost points written) of a one-year energy backfill."""
    with tempfile.TemporaryDirectory() as state:
        settings = settings_for(endpoints, database, Path(state))
        sink = make_sink(endpoints, settings)
        with build_client(settings, limiter=RateLimiter(1000.0)) as client:
            sites = resolve_sites(client, [endpoints["site_id"]], "")
            if not priced:
                sites = [dataclasses.replace(s, info={}) for s in sites]  # no tariff
            today = datetime.now(UTC).astimezone(sites[0].zone).date()
            scope = Scope(start=today - timedelta(days=DAYS - 1), end=today, kinds=("energy",))
            windows = plan(sites, scope)
            start = time.process_time()
            summary = run_windows(client, sink, sites, windows, concurrency=4)
            cpu = time.process_time() - start
            assert summary.ok and summary.total("days") == DAYS, summary
        sink.close()
    return cpu, summary.total("priced")


def backfill_overhead(endpoints: dict[str, Any], repeat: int) -> list[str]:
    """Alternating runs without and with cost (each database re-imported: idempotent), the
    median of each, so load from other processes hits both sides alike."""
    plain_runs, priced_runs, points = [], [], 0
    for _ in range(repeat):
        cpu, none_priced = backfill_cpu(endpoints, WITHOUT_COST, priced=False)
        plain_runs.append(cpu)
        cpu, points = backfill_cpu(endpoints, WITH_COST, priced=True)
        priced_runs.append(cpu)
        assert none_priced == 0 and points > 0
    plain, priced = statistics.median(plain_runs), statistics.median(priced_runs)
    overhead = (priced - plain) / plain
    return [
        f"(b) one-year energy backfill ({DAYS} requests) into influxd "
        f"{endpoints.get('influx_version', '?')}, this process's CPU (median of {repeat} "
        "alternating runs):",
        f"    without a tariff (no cost):                      {plain:6.2f} s",
        f"    with the tariff ({points:,} energy_cost points):  {priced:6.2f} s",
        f"    overhead cost adds:                              {overhead:6.1%} of the "
        "import's CPU (target < 10 %)",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure")
    args = parser.parse_args()
    configure_logging("warning", "json")
    for line in pricing_a_year(args.repeat):
        print(line, flush=True)
    helper = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bench_backfill.py"),
                               "--serve", "--latency-ms", "0"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        endpoints = json.loads(helper.stdout.readline())
        if not endpoints.get("server"):
            print(f"(b) skipped: no influxd ({endpoints.get('influx_problem')})")
            return 1
        for line in backfill_overhead(endpoints, args.repeat):
            print(line, flush=True)
    finally:
        helper.stdin.close()
        helper.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
