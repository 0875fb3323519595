"""Benchmark of the simulated Fleet API: startup time, the first (full-history) computation,
and requests/s over one keep-alive connection for live_status and calendar_history day
requests (a one-year backfill of day requests, then the same year again from the cache).

Prints figures; asserts nothing (no timed tests). Target: >= 500 requests/s on one core.
Run: .venv/bin/python bench/bench_simulator.py [--requests N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from collector.sim import SimConfig, SimServer


def _rate(label: str, count: int, send: Callable[[int], httpx.Response]) -> None:
    started = time.perf_counter()
    for i in range(count):
        response = send(i)
        if response.status_code != 200:
            raise SystemExit(f"{label}: HTTP {response.status_code}")
    elapsed = time.perf_counter() - started
    print(f"{label:44} {count:6d} req  {elapsed:7.2f} s  {count / elapsed:8.0f} req/s")


def _day_params(day: date, zone: ZoneInfo) -> dict[str, str]:
    end = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=zone)
    start = end.replace(hour=0, minute=0, second=0)
    return {"kind": "energy", "period": "day", "start_date": start.isoformat(),
            "end_date": end.isoformat(), "time_zone": zone.key}


def _server_only(sim: SimServer, site: int, zone: ZoneInfo, first: date, count: int) -> None:
    """The server's own work per uncached day request (no HTTP, no client): the budget of
    one core."""
    path = f"/api/1/energy_sites/{site}/calendar_history"
    started = time.process_time()
    for i in range(count):
        sim.answer("GET", path, _day_params(first + timedelta(days=i), zone), None)
    cpu = time.process_time() - started
    print(f"{'day answer, server CPU only (uncached)':44} {count:6d} req  {cpu:7.2f} s  "
          f"{count / cpu:8.0f} req/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="live_status requests")
    args = parser.parse_args()

    started = time.perf_counter()
    sim = SimServer(SimConfig(sites=3, seed=1)).start()
    print(f"startup (3 sites, listening)                 {time.perf_counter() - started:7.3f} s")
    site = sim.site_ids[0]
    zone = ZoneInfo(sim.sites[site].spec.time_zone)
    base = f"/api/1/energy_sites/{site}"
    try:
        with httpx.Client(base_url=sim.base_url, headers={"Authorization": "Bearer b"}) as http:
            started = time.perf_counter()
            http.get(f"{base}/live_status").raise_for_status()
            print(f"first live_status (simulates 2 years)        "
                  f"{time.perf_counter() - started:7.3f} s")
            _rate("live_status (keep-alive)", args.requests,
                  lambda i: http.get(f"{base}/live_status"))
            today = date.fromtimestamp(sim.clock.now())
            days = [today - timedelta(days=365 - i) for i in range(365)]
            _rate("calendar_history day, one-year backfill", len(days),
                  lambda i: http.get(f"{base}/calendar_history", params=_day_params(days[i], zone)))
            _rate("calendar_history day, same year again", len(days),
                  lambda i: http.get(f"{base}/calendar_history", params=_day_params(days[i], zone)))
            _server_only(sim, site, zone, today - timedelta(days=700), 300)
        print(f"requests logged: {sim.requests.count()}")
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
