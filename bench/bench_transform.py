"""Benchmark: CPU time of transform + line-protocol serialization (prints figures, asserts
nothing). Run: ``.venv/bin/python bench/bench_transform.py``.

- live poll: live_status response (two Wall Connectors) -> 2 frames -> lines, per poll;
- site_info snapshot -> 1 frame -> lines;
- history: a month of 5-minute energy_history rows (8640) -> frame -> lines, per row.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.transform import (
    energy_history_frame,
    live_status_frames,
    site_info_frame,
    to_line_protocol,
)

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def _load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _cpu_per_call(function, repeat: int) -> float:
    for _ in range(min(50, repeat)):
        function()
    start = time.process_time()
    for _ in range(repeat):
        function()
    return (time.process_time() - start) / repeat


def _month_of_history(rows: int) -> dict:
    start = datetime(2024, 7, 1, tzinfo=UTC)
    series = [{"timestamp": (start + timedelta(minutes=5 * i)).isoformat(),
               "solar_energy_exported": float(i % 700), "grid_energy_imported": 12,
               "total_home_usage": 80.5} for i in range(rows)]
    return {"response": {"time_series": series}}


def main() -> None:
    live = _load("live_status_wall_connectors")
    info = _load("site_info")
    now = datetime.now(UTC)

    def poll() -> int:
        return sum(len(to_line_protocol(f)) for f in live_status_frames(live, 1, "Home"))

    def snapshot() -> int:
        return len(to_line_protocol(site_info_frame(info, 1, None, now)))

    history = _month_of_history(8640)

    def month() -> int:
        return len(to_line_protocol(energy_history_frame(history, 1)))

    poll_ms = _cpu_per_call(poll, 2000) * 1000
    info_ms = _cpu_per_call(snapshot, 1000) * 1000
    month_s = _cpu_per_call(month, 5)
    print(f"live poll (transform + serialize, 3 points): {poll_ms:.3f} ms CPU "
          f"= {poll_ms / 5.0:.0%} of the 5 ms per-poll budget")
    print(f"site_info snapshot: {info_ms:.3f} ms CPU")
    print(f"energy_history month (8640 rows x 21+ fields): {month_s * 1000:.1f} ms CPU, "
          f"{8640 / month_s:,.0f} rows/s, {month_s / 8640 * 1e6:.1f} us/row "
          f"(= {month_s / 8640 / (poll_ms / 1000 / 3):.2f}x the per-point cost of a live poll)")


if __name__ == "__main__":
    main()
