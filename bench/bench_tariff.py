"""Benchmark: price one year of 5-minute timestamps (105,120 instants) with a tariff.

Prints the median of several runs of ``collector.tariff.price_at`` (lookup tables compiled
inside each call, as a caller would), for a three-season TOU tariff and for a 48-period
half-hourly tariff, in America/Los_Angeles. Target (issue 6): under 100 ms. A script, not a
timed test: run ``.venv/bin/python bench/bench_tariff.py``.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import pandas as pd

from collector.tariff import Tariff, load_tariff, price_at

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tariffs"
ZONE = "America/Los_Angeles"
RUNS = 7


def half_hourly() -> Tariff:
    """48 half-hour periods every day of the week (the shape of real dynamic-price tariffs)."""
    periods, rates = {}, {}
    for slot in range(48):
        label = f"PERIOD_{slot // 2:02d}_{slot % 2 * 30:02d}"
        end = (slot + 1) * 30
        periods[label] = {"periods": [{"toDayOfWeek": 6, "fromHour": slot // 2,
                                       "fromMinute": slot % 2 * 30, "toHour": end // 60,
                                       "toMinute": end % 60}]}
        rates[label] = 0.2 + slot / 100
    return load_tariff({"currency": "USD", "energy_charges": {"Year": {"rates": rates}},
                        "seasons": {"Year": {"fromMonth": 1, "toMonth": 12, "toDay": 31,
                                             "tou_periods": periods}}})


def measure(tariff: Tariff, index: pd.DatetimeIndex) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        price_at(tariff, index, ZONE)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000.0


def main() -> None:
    index = pd.date_range("2023-01-01", "2024-01-01", freq="5min", tz="UTC", inclusive="left")
    tariffs = {
        "three-season TOU": load_tariff(json.loads((FIXTURES / "three_season.json").read_text())),
        "48 half-hour periods": half_hourly(),
    }
    print(f"pricing {len(index):,} five-minute instants in {ZONE} (median of {RUNS} runs)")
    for name, tariff in tariffs.items():
        ms = measure(tariff, index)
        print(f"  {name:22} {ms:7.1f} ms  ({ms / 100:.2f} x the 100 ms target)")


if __name__ == "__main__":
    main()
