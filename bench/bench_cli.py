"""CLI start-up time: median wall time of ``python -m collector --version``, ``--help``,
``check-config`` (no network) and the bad-usage path of the heavy commands, side by side with
``python -c pass`` in the same run, each against the 0.4 s target.

    .venv/bin/python bench/bench_cli.py [--runs 9]

Runs alternate between the commands so machine load affects them alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_S = 0.4
CASES = {
    "python -c pass": ["-c", "pass"],
    "--version": ["-m", "collector", "--version"],
    "--help": ["-m", "collector", "--help"],
    "check-config": ["-m", "collector", "check-config"],
    # The error paths: bad usage answered before pandas, httpx or influxdb_client load.
    "run --bogus": ["-m", "collector", "run", "--bogus"],
    "backfill bad date": ["-m", "collector", "backfill", "--start", "2024-13-01"],
    "demo bad port": ["-m", "collector", "demo", "--port", "99999"],
    "set bad value": ["-m", "collector", "set", "backup-reserve", "250"],
    "tariff no file": ["-m", "collector", "tariff", "price"],
    "cost bad option": ["-m", "collector", "cost", "--bogus"],
    "export no args": ["-m", "collector", "export"],
}


def _time(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESLA_", "COLLECTOR_"))}
    env.update(TESLA_ACCESS_TOKEN="bench-token", COLLECTOR_STATE_DIR=tempfile.mkdtemp())
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(runs):
        for name, args in CASES.items():
            times[name].append(_time(args, env))
    base = statistics.median(times["python -c pass"])
    print(f"CLI start-up, median of {runs} alternating runs ({os.cpu_count()} cores, "
          "machine shared with other work)")
    for name, values in times.items():
        median = statistics.median(values)
        verdict = "" if name.startswith("python") else (
            "  OK (< 0.4 s)" if median < TARGET_S else "  OVER the 0.4 s target")
        print(f"  {name:18} {median:6.3f} s  (+{median - base:5.3f} s over python)"
              f"{verdict}")


if __name__ == "__main__":
    main()
