"""Text reports of ``tesla-energy battery`` and ``tesla-energy outages`` (pure formatting).

- ``battery_table``: per local month the trailing round-trip efficiency at the month's last
  day, the cycles summed, the mean capacity estimate and its share of nameplate; then the
  trend: a least-squares line through the daily capacity estimates, as Wh and percentage
  points of nameplate per year.
- ``outage_table``: every outage (start in the site's zone, duration, energy, SoC), then
  monthly totals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SECONDS_PER_YEAR = 365.25 * 86400


def _months(index: pd.DatetimeIndex, zone: str) -> pd.Index:
    return pd.Index(index.tz_convert(zone).strftime("%Y-%m"), name="month")


def _num(value: float, fmt: str) -> str:
    return "-" if value is None or not np.isfinite(value) else format(value, fmt)


def capacity_trend(health: pd.DataFrame) -> float | None:
    """Capacity change in Wh per year (least squares over the daily estimates), None with
    fewer than two estimates."""
    capacity = health["capacity_wh"].dropna()
    if len(capacity) < 2:
        return None
    years = capacity.index.as_unit("s").asi8 / SECONDS_PER_YEAR
    return float(np.polyfit(years - years[0], capacity.to_numpy(), 1)[0])


def battery_table(health: pd.DataFrame, zone: str, nameplate: float) -> str:
    months = _months(health.index, zone)
    grouped = health.groupby(months)
    lines = [f"{'month':7}  {'efficiency':>10}  {'cycles':>7}  {'capacity Wh':>11}  "
             f"{'capacity %':>10}"]
    for month, rows in grouped:
        efficiency = rows["round_trip_efficiency"].dropna()
        last = efficiency.iloc[-1] * 100 if len(efficiency) else None
        lines.append(f"{month:7}  {_num(last, '9.1f')}%"
                     f"  {rows['cycles'].sum():7.2f}  {_num(rows['capacity_wh'].mean(), '11.0f')}"
                     f"  {_num(rows['capacity_percent'].mean(), '10.1f')}")
    trend = capacity_trend(health)
    lines.append(f"nameplate {nameplate:.0f} Wh; warranty floor 70 % = {nameplate * 0.7:.0f} Wh")
    lines.append("capacity trend: not enough capacity estimates" if trend is None else
                 f"capacity trend: {trend:+.0f} Wh/year ({trend / nameplate * 100:+.1f} % of "
                 "nameplate per year)")
    return "\n".join(lines) + "\n"


def outage_table(outages: pd.DataFrame, zone: str) -> str:
    """``outages``: index event start, duration_seconds and the outage columns."""
    lines = [f"{'start':25}  {'duration':>9}  {'home Wh':>8}  {'battery Wh':>10}  "
             f"{'solar Wh':>8}  {'SoC':>11}"]
    for instant, row in outages.iterrows():
        soc = f"{_num(row['soc_start'], '.0f')} -> {_num(row['soc_end'], '.0f')}"
        lines.append(f"{instant.tz_convert(zone).isoformat():25}  "
                     f"{row['duration_seconds'] / 60:8.1f}m  {_num(row['home_usage_wh'], '8.0f')}"
                     f"  {_num(row['battery_energy_wh'], '10.0f')}  "
                     f"{_num(row['solar_energy_wh'], '8.0f')}  {soc:>11}")
    lines.append("")
    lines.append(f"{'month':7}  {'outages':>7}  {'hours':>6}  {'home Wh':>8}  "
                 f"{'battery Wh':>10}  {'solar Wh':>8}")
    for month, rows in outages.groupby(_months(outages.index, zone)):
        lines.append(f"{month:7}  {len(rows):7d}  {rows['duration_seconds'].sum() / 3600:6.2f}  "
                     f"{rows['home_usage_wh'].sum():8.0f}  {rows['battery_energy_wh'].sum():10.0f}"
                     f"  {rows['solar_energy_wh'].sum():8.0f}")
    return "\n".join(lines) + "\n"
