"""Export benchmark: three years of one site's 5-minute energy_history out of a real influxd.

Starts a private influxd (as the tests do), writes 3 × 365 days of synthetic 5-minute
``energy_history`` buckets of one site (every field of the schema, ~315,000 points), then runs
``tesla-energy export`` as a user does (a child process, ``python -m collector``) once per
format and prints, for each: rows, wall time, rows per second and the child's peak RSS (target
< 200 MB). The write phase is not measured. Run: ``.venv/bin/python bench/bench_export.py``
(``--days`` to change the span).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collector.transform.fields import ENERGY_HISTORY  # noqa: E402
from tests.support import InfluxServer  # noqa: E402

SITE = "1234567890"
STEP = 300
START = int(datetime(2022, 1, 1, tzinfo=UTC).timestamp())
BATCH = 5000


def synthetic_lines(days: int):
    """One site's buckets; values vary per bucket so nothing compresses to nothing."""
    names = [field.name for field in ENERGY_HISTORY.fields]
    for i in range(days * 86400 // STEP):
        values = ",".join(f"{name}={(i * 7 + k * 13) % 997 + 0.25}"
                          for k, name in enumerate(names))
        yield f"energy_history,site_id={SITE} {values} {START + i * STEP}"


def seed(server: InfluxServer, db: str, days: int) -> int:
    batch: list[str] = []
    count = 0
    for line in synthetic_lines(days):
        batch.append(line)
        if len(batch) == BATCH:
            server.write_lines(db, batch)
            count += len(batch)
            batch = []
    if batch:
        server.write_lines(db, batch)
        count += len(batch)
    return count


def run_export(env: dict[str, str], fmt: str, output: Path) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (kB) and the last stderr line of one export child."""
    argv = [sys.executable, "-m", "collector", "export", "--measurement", "energy_history",
            "--site", SITE, "--format", fmt, "--output", str(output)]
    began = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - began
    err = child.stderr.read() if child.stderr else ""
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"export {fmt} failed ({child.returncode}): {err.strip()[-300:]}")
    return wall, usage.ru_maxrss, err.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3 * 365)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "influxd").mkdir()
        server = InfluxServer(root=Path(tmp) / "influxd").start()
        try:
            db = server.create_database("bench_export")
            began = time.perf_counter()
            points = seed(server, db, args.days)
            print(f"seeded {points:,} energy_history points ({args.days} days, "
                  f"{len(ENERGY_HISTORY.fields)} fields) in {time.perf_counter() - began:.1f} s")
            env = {**os.environ, "INFLUX_URL": server.url, "INFLUX_BUCKET": f"{db}/autogen",
                   "INFLUX_ORG": "-", "COLLECTOR_STATE_DIR": str(Path(tmp) / "state"),
                   "COLLECTOR_LOG_LEVEL": "warning", "TESLA_API_URL": "http://127.0.0.1:9"}
            env.pop("COLLECTOR_CONFIG", None)
            for fmt in ("csv", "parquet"):
                output = Path(tmp) / f"export.{fmt}"
                wall, rss_kb, line = run_export(env, fmt, output)
                size = output.stat().st_size / 1e6
                print(f"{fmt:8s} {points:,} rows in {wall:.1f} s = {points / wall:,.0f} rows/s, "
                      f"peak RSS {rss_kb / 1024:.0f} MB (target < 200 MB), file {size:.1f} MB")
                print(f"         {line}")
        finally:
            server.close()
    print("(machine shared with other jobs: 2 cores, loaded; figures are one run)")


if __name__ == "__main__":
    main()
