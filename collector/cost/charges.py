"""Fixed and demand charges from priced buckets, as ``energy_cost_charges`` points.

- **Daily charges** (``daily_charges``: a list of ``{name, amount}``) count once per local day
  that has buckets, from the version in effect at the day's first bucket: one point
  ``charge=daily`` at the local day start, ``amount`` = the sum of the amounts
  (``baseline_amount`` is the same: fixed charges do not depend on solar or battery). With a
  configured system price the point also carries ``system_price`` (the dashboards' payback
  line).
- **Demand charges** (``demand_charges``, per kW, by season and period) per local month and
  period: the highest grid import power of a bucket in that period (Wh x 3600 / bucket
  seconds; x 12 for 5-minute buckets) times the rate. One point ``charge=demand`` with tag
  ``period`` at the local month start. When a month's period spans two tariff versions or two
  seasons, each part is charged at its own peak and rate and the point holds their sum.
  ``baseline_amount`` charges the home usage peak the same way. Periods without a demand rate
  (or a zero one) get no point.

Pure: priced buckets in, a frame out, no I/O.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from collector.cost.compute import HOME, IMPORTED, BucketCosts, step_seconds
from collector.transform.fields import ENERGY_COST_CHARGES
from collector.transform.frame import Frame

DAILY, DEMAND = "daily", "demand"


def _local_starts(naive: pd.DatetimeIndex, zone: str) -> pd.DatetimeIndex:
    """Local wall-clock starts (naive) as UTC instants; a start skipped by DST moves to the
    first instant that exists, an ambiguous one takes its first occurrence."""
    unique, inverse = np.unique(naive.as_unit("s").asi8, return_inverse=True)
    starts = pd.DatetimeIndex(pd.to_datetime(unique, unit="s")).as_unit("ns").tz_localize(
        zone, ambiguous=np.ones(len(unique), dtype=bool), nonexistent="shift_forward")
    return starts.tz_convert("UTC")[inverse.ravel()]


def local_days(index: pd.DatetimeIndex, zone: str) -> pd.DatetimeIndex:
    """The start of each instant's local day, as a UTC instant."""
    return _local_starts(index.tz_convert(zone).tz_localize(None).normalize(), zone)


def local_months(index: pd.DatetimeIndex, zone: str) -> pd.DatetimeIndex:
    """The start of each instant's local month, as a UTC instant."""
    naive = index.tz_convert(zone).tz_localize(None)
    return _local_starts(naive.normalize() - pd.to_timedelta(naive.day - 1, unit="D"), zone)


def daily_points(costs: BucketCosts, zone: str,
                 system_price: float | None = None) -> pd.DataFrame:
    """One row per local day with buckets: amount from the day's first bucket's tariff."""
    data = costs.data
    if data.empty:
        return _empty()
    days = local_days(data.index, zone)
    first = ~pd.Series(days).duplicated().to_numpy()
    versions = [costs.timeline.versions[v] for v in data["version"].to_numpy()[first]]
    amounts = np.array([sum(amount for _, amount in v.tariff.daily_charges) for v in versions])
    rows = pd.DataFrame({
        "currency": [v.currency for v in versions], "charge": DAILY, "period": None,
        "amount": amounts, "baseline_amount": amounts, "rate": np.nan,
        "peak_power_w": np.nan, "baseline_peak_power_w": np.nan,
        "system_price": np.nan if system_price is None else float(system_price),
        "tariff_sha256": [v.sha256 for v in versions],
    }, index=days[first])
    return rows


def demand_points(costs: BucketCosts, zone: str) -> pd.DataFrame:
    """One row per local month and period that has a non-zero demand rate."""
    data = costs.data
    if "demand_rate" not in data:  # priced without detail: no version charges demand
        return _empty()
    rated = data[(data["demand_rate"].fillna(0.0) != 0.0) & (data["period"] != "")]
    if rated.empty:
        return _empty()
    to_watts = 3600.0 / step_seconds(data.index)
    parts = pd.DataFrame({
        "month": local_months(rated.index, zone), "period": rated["period"].to_numpy(),
        "version": rated["version"].to_numpy(), "season": rated["season"].to_numpy(),
        "rate": rated["demand_rate"].to_numpy(),
        "peak": rated[IMPORTED].to_numpy() * to_watts,
        "baseline_peak": rated[HOME].to_numpy() * to_watts,
    })
    parts = parts.groupby(["month", "period", "version", "season"], sort=True).agg(
        rate=("rate", "first"), peak=("peak", "max"), baseline_peak=("baseline_peak", "max"))
    parts["amount"] = parts["peak"] / 1000.0 * parts["rate"]
    parts["baseline_amount"] = parts["baseline_peak"] / 1000.0 * parts["rate"]
    parts = parts.reset_index()
    rows = []
    versions = costs.timeline.versions
    for (month, period), group in parts.groupby(["month", "period"], sort=True):
        last = versions[int(group["version"].iloc[-1])]
        rows.append({
            "time": month, "currency": last.currency, "charge": DEMAND, "period": period,
            "amount": float(group["amount"].sum()),
            "baseline_amount": float(group["baseline_amount"].sum()),
            "rate": float(group["rate"].iloc[0]) if len(group) == 1 else np.nan,
            "peak_power_w": float(group["peak"].max()),
            "baseline_peak_power_w": float(group["baseline_peak"].max()),
            "system_price": np.nan, "tariff_sha256": last.sha256})
    return pd.DataFrame(rows).set_index("time")


def _empty() -> pd.DataFrame:
    columns = ["currency", "charge", "period", *ENERGY_COST_CHARGES.field_names]
    return pd.DataFrame({c: [] for c in columns},
                        index=pd.DatetimeIndex([], tz="UTC", name="time"))


def charges_frame(rows: pd.DataFrame, site_id: int | str) -> Frame:
    """``energy_cost_charges`` points from ``daily_points``/``demand_points`` rows."""
    data = pd.DataFrame({"site_id": np.full(len(rows), str(site_id), dtype=object)},
                        index=pd.DatetimeIndex(rows.index, name="time"))
    for tag in ("currency", "charge", "period"):
        data[tag] = rows[tag].to_numpy(dtype=object)
    for name in ENERGY_COST_CHARGES.field_names:
        values = rows[name].to_numpy(dtype=object if name == "tariff_sha256" else "float64")
        data[name] = values
    return Frame(ENERGY_COST_CHARGES.measurement, data, ENERGY_COST_CHARGES.tags)
