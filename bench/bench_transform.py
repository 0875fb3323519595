"""Benchmark: CPU time of transform + line-protocol serialization (prints figures, asserts
nothing). Run: ``.venv/bin/python bench/bench_transform.py``.

- live poll: live_status response (two Wall Connectors) -> rows -> lines, the daemon's path
  (``live_status_rows`` + ``live_status_lines``), and the same through 2 frames, per poll;
- site_info snapshot -> 1 frame -> lines;
- history: a month of 5-minute energy_history rows (8640) -> frame -> lines, per row;
- history day: one local day as the API answers it (288 five-minute rows, all 21 energy
  fields with zeros omitted, Wh values with decimals, "-07:00" offsets) -> rows -> lines,
  the import's path (``energy_history_rows`` + ``energy_history_lines``), the two timed
  separately, in CPU ms per day, and the same through a frame. The whole imported day
  (request and write included) is measured by ``bench_scale.py`` (target < 5 ms).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from collector.transform import (
    energy_history_frame,
    energy_history_lines,
    energy_history_rows,
    live_status_frames,
    live_status_lines,
    live_status_rows,
    site_info_frame,
    to_line_protocol,
)
from collector.transform.fields import ENERGY_HISTORY

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


def _day_of_history() -> dict:
    """288 rows like the API's: every energy field, zero values omitted, mixed int/decimal Wh."""
    rng = np.random.default_rng(7)
    start = datetime(2024, 7, 1, 0, 0, tzinfo=timezone(timedelta(hours=-7)))
    series = []
    for i in range(288):
        row: dict = {"timestamp": (start + timedelta(minutes=5 * i)).isoformat()}
        for n, name in enumerate(ENERGY_HISTORY.field_names):
            if rng.random() < 0.3:  # zero: omitted
                continue
            value = float(rng.integers(0, 4000)) if n % 3 else round(rng.random() * 4000, 4)
            row[name] = int(value) if value.is_integer() else value
        series.append(row)
    return {"response": {"time_series": json.loads(json.dumps(series))}}


def main() -> None:
    live = _load("live_status_wall_connectors")
    info = _load("site_info")
    now = datetime.now(UTC)

    def poll() -> int:
        return len(live_status_lines(live_status_rows(live, 1, "Home")))

    def poll_frames() -> int:
        return sum(len(to_line_protocol(f)) for f in live_status_frames(live, 1, "Home"))

    def snapshot() -> int:
        return len(to_line_protocol(site_info_frame(info, 1, None, now)))

    history = _month_of_history(8640)

    def month() -> int:
        return len(to_line_protocol(energy_history_frame(history, 1)))

    day = _day_of_history()
    day_rows = energy_history_rows(day, 1)

    def day_transform() -> int:
        return len(energy_history_rows(day, 1))

    def day_serialize() -> int:
        return len(energy_history_lines(day_rows))

    def day_frames() -> int:
        return len(to_line_protocol(energy_history_frame(day, 1)))

    poll_ms = _cpu_per_call(poll, 5000) * 1000
    frames_ms = _cpu_per_call(poll_frames, 1000) * 1000
    info_ms = _cpu_per_call(snapshot, 1000) * 1000
    month_s = _cpu_per_call(month, 5)
    print(f"live poll (transform + serialize, 3 points): {poll_ms:.3f} ms CPU rows -> lines "
          f"(through pandas frames: {frames_ms:.3f} ms, {frames_ms / poll_ms:.0f}x)")
    print(f"site_info snapshot: {info_ms:.3f} ms CPU")
    print(f"energy_history month (8640 rows x 21+ fields): {month_s * 1000:.1f} ms CPU, "
          f"{8640 / month_s:,.0f} rows/s, {month_s / 8640 * 1e6:.1f} us/row "
          f"(= {month_s / 8640 / (poll_ms / 1000 / 3):.2f}x the per-point cost of a live poll)")
    transform_ms = _cpu_per_call(day_transform, 300) * 1000
    serialize_ms = _cpu_per_call(day_serialize, 300) * 1000
    framed_ms = _cpu_per_call(day_frames, 300) * 1000
    total_ms = transform_ms + serialize_ms
    print(f"energy_history day (288 rows x 21 fields): rows {transform_ms:.2f} ms + lines "
          f"{serialize_ms:.2f} ms = {total_ms:.2f} ms CPU per day (through a pandas frame: "
          f"{framed_ms:.2f} ms, {framed_ms / total_ms:.1f}x)")

if __name__ == "__main__":
    main()
