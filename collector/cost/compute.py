"""Cost of energy buckets: prices per bucket from the tariff timeline, then the money columns.

For each ``energy_history`` bucket (a row of a frame with a UTC index at the bucket start):

- the version in effect at the bucket's start (``Timeline.lookup``) and its buy and sell price
  for that instant in the site's zone (season, weekday, period; wall-clock periods, so the
  repeated hour of a fall-back day is priced by the wall clock each time),
- ``import_cost = grid_energy_imported / 1000 * buy``,
  ``export_credit = total_grid_energy_exported / 1000 * sell`` (0 where there is no sell price),
  ``net_cost = import_cost - export_credit``,
  ``baseline_cost = total_home_usage / 1000 * buy`` (no solar, no battery),
  ``savings = baseline_cost - net_cost``.

Prices are the tariff's own: negative prices and buy < sell are priced as written (the report
notes them). A bucket whose buy price the tariff does not define is *unpriced*: it gets no
``energy_cost`` point and is counted. Pure: frames in, frames out, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from collector.cost.timeline import Timeline
from collector.transform.fields import ENERGY_COST
from collector.transform.frame import Frame

IMPORTED, EXPORTED, HOME = "grid_energy_imported", "total_grid_energy_exported", "total_home_usage"
SOLAR_TO_HOME = "consumer_energy_imported_from_solar"
#: energy_history fields the cost needs (the rest of a bucket is not read).
INPUTS = (IMPORTED, EXPORTED, HOME)
DEFAULT_STEP_SECONDS = 300


@dataclass(frozen=True)
class BucketCosts:
    """Every bucket's prices and costs (``data``, UTC index) plus, per bucket, the timeline
    facts the reports need: ``version`` (index into the timeline), ``assumed``, ``season``,
    ``period`` (labels) and ``demand_rate`` (per kW; NaN where the tariff has none)."""

    data: pd.DataFrame
    timeline: Timeline

    @property
    def priced(self) -> pd.DataFrame:
        known = self.data["buy_price"].notna().to_numpy()
        return self.data if known.all() else self.data[known]

    @property
    def unpriced(self) -> int:
        return int(self.data["buy_price"].isna().sum())

    @property
    def assumed(self) -> int:
        return int(self.data["assumed"].sum())


def column(energy: pd.DataFrame, name: str) -> np.ndarray:
    """A float column of an energy frame; 0.0 where absent (energy_history's zero rule)."""
    if name not in energy.columns:
        return np.zeros(len(energy))
    return np.nan_to_num(energy[name].to_numpy(dtype="float64", na_value=np.nan), nan=0.0)


def epoch_seconds(index: pd.DatetimeIndex) -> np.ndarray:
    return index.as_unit("s").asi8 if index.tz is not None else (
        index.tz_localize("UTC").as_unit("s").asi8)


def prices(index: pd.DatetimeIndex, timeline: Timeline, zone: str,
           detail: bool = True) -> dict[str, np.ndarray]:
    """Per instant (arrays): version, assumed, buy, sell, and with ``detail`` season, period
    and demand_rate (what the charges need; the import itself does not)."""
    found = timeline.lookup(epoch_seconds(index))
    count = len(index)
    out = {"version": found.index, "assumed": found.assumed, "buy": np.full(count, np.nan),
           "sell": np.full(count, np.nan)}
    if detail:
        out.update(season=np.full(count, "", dtype=object),
                   period=np.full(count, "", dtype=object), demand_rate=np.full(count, np.nan))
    for position in np.unique(found.index).tolist():
        rows = np.flatnonzero(found.index == position)
        compiled = timeline.versions[position].compiled
        seasons, periods, buy, sell = compiled.lookup(
            index if len(rows) == count else index[rows], zone)
        out["buy"][rows], out["sell"][rows] = buy, sell
        if detail:
            out["demand_rate"][rows] = compiled.demand[seasons, periods]
            out["season"][rows] = _labels(compiled.buy.seasons, seasons)
            out["period"][rows] = _labels(compiled.buy.periods, periods)
    return out


def _labels(names: tuple[str, ...], codes: np.ndarray) -> np.ndarray:
    table = np.array([*names, ""], dtype=object)  # code -1 -> ""
    return table[codes]


def bucket_costs(energy: pd.DataFrame, timeline: Timeline, zone: str,
                 detail: bool = True) -> BucketCosts:
    """Prices and costs of every bucket of ``energy`` (needs a non-empty ``timeline``);
    ``detail``: also the season, period and demand rate of each bucket."""
    priced = prices(energy.index, timeline, zone, detail)
    buy = priced.pop("buy")
    sell = np.nan_to_num(priced.pop("sell"), nan=0.0)
    imported, exported, home = (column(energy, name) for name in INPUTS)
    import_cost = imported / 1000.0 * buy
    export_credit = exported / 1000.0 * sell
    net_cost = import_cost - export_credit
    baseline_cost = home / 1000.0 * buy
    versions = timeline.versions
    data = pd.DataFrame({
        "buy_price": buy, "sell_price": np.where(np.isnan(buy), np.nan, sell),
        "import_cost": import_cost, "export_credit": export_credit, "net_cost": net_cost,
        "baseline_cost": baseline_cost, "savings": baseline_cost - net_cost,
        IMPORTED: imported, EXPORTED: exported, HOME: home,  # the inputs, for charges/reports
        "tariff_sha256": np.array([v.sha256 for v in versions], dtype=object)[
            priced["version"]],
        "currency": np.array([v.currency for v in versions], dtype=object)[priced["version"]],
        **priced,
    }, index=energy.index)
    return BucketCosts(data, timeline)


def energy_cost_frame(costs: BucketCosts, site_id: int | str) -> Frame:
    """The ``energy_cost`` points of the priced buckets (tags site_id, currency)."""
    priced = costs.priced
    data = pd.DataFrame({
        "site_id": np.full(len(priced), str(site_id), dtype=object),
        "currency": priced["currency"].to_numpy(dtype=object),
        **{name: priced[name].to_numpy() for name in ENERGY_COST.field_names},
    }, index=priced.index.rename("time"))
    return Frame(ENERGY_COST.measurement, data, ENERGY_COST.tags)


def step_seconds(index: pd.DatetimeIndex) -> int:
    """The bucket length of sorted bucket starts: their smallest gap (5 minutes by default)."""
    seconds = np.unique(epoch_seconds(index))
    gaps = np.diff(seconds)
    gaps = gaps[gaps > 0]
    return int(gaps.min()) if len(gaps) else DEFAULT_STEP_SECONDS
