"""Helpers for the cost tests: tariffs written out by hand, energy frames, timelines.

Every tariff here names its prices per season and period explicitly (no reliance on the
``ALL`` fallbacks), so the expected prices in the tests can be read straight off it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from collector.cost.timeline import SNAPSHOT, TariffVersion, Timeline

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "tariffs"
LA = "America/Los_Angeles"
ADELAIDE = "Australia/Adelaide"
WEEKDAYS, WEEKEND, WEEK = (0, 4), (5, 6), (0, 6)


def span(days: tuple[int, int], start: int, end: int) -> dict[str, int]:
    """A ``periods`` entry from whole hours (end 0 = midnight), zero fields left out."""
    body = {"fromDayOfWeek": days[0], "toDayOfWeek": days[1], "fromHour": start,
            "toHour": end}
    return {k: v for k, v in body.items() if v}


def minutes_span(days: tuple[int, int], start: tuple[int, int],
                 end: tuple[int, int]) -> dict[str, int]:
    body = {"fromDayOfWeek": days[0], "toDayOfWeek": days[1], "fromHour": start[0],
            "fromMinute": start[1], "toHour": end[0], "toMinute": end[1]}
    return {k: v for k, v in body.items() if v}


def tariff(seasons: dict[str, tuple[int, int, dict[str, list[dict]]]],
           buy: dict[str, dict[str, float]], sell: dict[str, dict[str, float]] | None = None,
           *, daily: tuple[tuple[str, float], ...] = (),
           demand: dict[str, dict[str, float]] | None = None, name: str = "Test",
           currency: str = "USD") -> dict[str, Any]:
    content: dict[str, Any] = {
        "name": name, "utility": "Test Utility", "code": name.upper(), "currency": currency,
        "seasons": {n: {"fromMonth": a, "toMonth": b, "tou_periods": {
            p: {"periods": spans} for p, spans in periods.items()}}
            for n, (a, b, periods) in seasons.items()},
        "energy_charges": {s: {"rates": rates} for s, rates in buy.items()},
        "daily_charges": [{"name": n, "amount": a} for n, a in daily],
    }
    if sell is not None:
        content["sell_tariff"] = {"energy_charges": {s: {"rates": r} for s, r in sell.items()}}
    if demand is not None:
        content["demand_charges"] = {s: {"rates": r} for s, r in demand.items()}
    return content


SUMMER_PERIODS = {
    "ON_PEAK": [span(WEEKDAYS, 16, 21)],
    "PARTIAL_PEAK": [span(WEEKDAYS, 15, 16), span(WEEKDAYS, 21, 0), span(WEEKEND, 16, 21)],
    "OFF_PEAK": [span(WEEKDAYS, 0, 15), span(WEEKEND, 0, 16), span(WEEKEND, 21, 0)],
}
TWO_PERIODS = {"ON_PEAK": [span(WEEK, 17, 20)], "OFF_PEAK": [span(WEEK, 20, 17)]}


def three_season() -> dict[str, Any]:
    """Summer Jun-Sep (weekday peak 16-21), Autumn Oct-Nov and Winter Dec-May (peak 17-20),
    with a sell tariff."""
    return tariff(
        {"Summer": (6, 9, SUMMER_PERIODS), "Autumn": (10, 11, TWO_PERIODS),
         "Winter": (12, 5, TWO_PERIODS)},
        buy={"Summer": {"ON_PEAK": 0.55, "PARTIAL_PEAK": 0.42, "OFF_PEAK": 0.33},
             "Autumn": {"ON_PEAK": 0.50, "OFF_PEAK": 0.31},
             "Winter": {"ON_PEAK": 0.45, "OFF_PEAK": 0.30}},
        sell={"Summer": {"ON_PEAK": 0.12, "PARTIAL_PEAK": 0.08, "OFF_PEAK": 0.04},
              "Autumn": {"ON_PEAK": 0.06, "OFF_PEAK": 0.05},
              "Winter": {"ON_PEAK": 0.10, "OFF_PEAK": 0.03}},
        daily=(("Service", 0.5), ("Meter", 0.25)),
        demand={"Summer": {"ON_PEAK": 10.0, "OFF_PEAK": 2.0}},
        name="Three season")


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def timeline(*contents: dict[str, Any], starts: tuple[int, ...] = (0,)) -> Timeline:
    return Timeline(TariffVersion(start, SNAPSHOT, content)
                    for start, content in zip(starts, contents, strict=True))


def day_index(day: str, zone: str) -> pd.DatetimeIndex:
    """The UTC starts of every 5-minute bucket of local ``day`` (DST days: 276/300)."""
    start = pd.Timestamp(day).tz_localize(zone)
    end = (pd.Timestamp(day) + pd.Timedelta(days=1)).tz_localize(zone)
    return pd.date_range(start.tz_convert("UTC"), end.tz_convert("UTC"), freq="5min",
                         inclusive="left")


def energy(index: pd.DatetimeIndex, imported: float = 100.0, exported: float = 50.0,
           home: float = 300.0, solar_to_home: float = 0.0) -> pd.DataFrame:
    count = len(index)
    return pd.DataFrame({
        "grid_energy_imported": np.full(count, imported),
        "total_grid_energy_exported": np.full(count, exported),
        "total_home_usage": np.full(count, home),
        "consumer_energy_imported_from_solar": np.full(count, solar_to_home)}, index=index)


def at(local: str, zone: str) -> pd.Timestamp:
    """A wall-clock time in ``zone`` as a UTC instant (first occurrence when ambiguous)."""
    return pd.Timestamp(local).tz_localize(zone, ambiguous=True).tz_convert("UTC")


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")
