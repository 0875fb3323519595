"""The cost feature's entry points for imports and reports (wiring; I/O through the sink).

- ``SiteCosting``: a site's resolved zone and tariff timeline; ``inputs`` keeps what one
  imported day's ``energy_history`` rows' cost needs, ``energy_lines`` prices a batch of them into
  ``energy_cost`` lines (the backfill's writer does this for every batch of energy windows:
  backfill, recent-history refresh, gap fill).
- ``costing_for``: builds a ``SiteCosting`` from the stored timeline (or, when none is stored
  yet, from the tariff the site reports).
- ``settle``: after an import, and for every report: reads the stored buckets of the whole
  local months touched (of the imported days only when the tariff has no demand charge and no
  report asks), computes and writes the fixed and demand charges (zeroing demand
  points of periods that no longer exist) and the cost and solar share of the charge sessions.
- ``price_range``: a report's inputs: settles, then fills in the ``energy_cost`` points a
  range lacks (``tesla-energy cost``) or rewrites them (``--recompute``).

The arithmetic is in ``compute``, ``charges`` and ``sessions``; this module must not hold
any. It reads only through ``sink.query_influxql`` and writes only through ``sink.write``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from collector.cost import charges, sessions, store
from collector.cost.compute import (
    EXPORTED,
    HOME,
    IMPORTED,
    BucketCosts,
    bucket_costs,
    energy_cost_frame,
    epoch_seconds,
)
from collector.cost.timeline import Timeline
from collector.errors import CollectorError
from collector.log import get_logger
from collector.transform.fields import CHARGE_SESSION, ENERGY_COST
from collector.transform.frame import Frame, utc_index
from collector.transform.history import EnergyRows
from collector.transform.lineprotocol import to_line_protocol

log = get_logger(__name__)


def day_start(day: date, zone: str) -> int:
    """Epoch seconds of the first instant of local ``day``."""
    naive = pd.DatetimeIndex([pd.Timestamp(day)])
    return int(charges.local_days(naive.tz_localize(zone, nonexistent="shift_forward",
                                                    ambiguous=np.ones(1, dtype=bool)),
                                  zone).as_unit("s").asi8[0])


def month_span(first: date, last: date, zone: str) -> tuple[int, int]:
    """[start, end) epoch seconds of the local months containing first..last."""
    following = date(last.year + last.month // 12, last.month % 12 + 1, 1)
    return day_start(first.replace(day=1), zone), day_start(following, zone)


def day_span(first: date, last: date, zone: str) -> tuple[int, int]:
    """[start, end) epoch seconds of local days first..last."""
    return day_start(first, zone), day_start(last + timedelta(days=1), zone)


@dataclass(frozen=True, eq=False)
class BucketInputs:
    """One imported window's buckets, as the cost needs them: epoch seconds and a
    ``len x ENERGY_INPUTS`` float matrix (plain arrays: cheap to keep for a whole import)."""

    seconds: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.seconds)


def buckets_frame(batch: list[BucketInputs]) -> pd.DataFrame:
    """One frame (UTC index, the ``ENERGY_INPUTS`` columns) of several windows' inputs."""
    held = [b for b in batch if len(b)]
    seconds = np.concatenate([b.seconds for b in held]) if held else np.zeros(0, "int64")
    values = (np.vstack([b.values for b in held]) if held
              else np.zeros((0, len(store.ENERGY_INPUTS))))
    return pd.DataFrame(values, columns=list(store.ENERGY_INPUTS), index=utc_index(seconds))


@dataclass(frozen=True)
class SiteCosting:
    """What pricing a site needs: its id, resolved zone and tariff timeline."""

    site_id: int
    zone_name: str
    timeline: Timeline
    system_price: float | None = None

    def costs(self, energy: pd.DataFrame, detail: bool = True) -> BucketCosts:
        return bucket_costs(energy, self.timeline, self.zone_name, detail)

    @staticmethod
    def inputs(energy: EnergyRows) -> BucketInputs:
        """What the cost of an imported day's energy_history rows needs (kept by the import)."""
        columns = [energy.names.index(name) for name in store.ENERGY_INPUTS]
        return BucketInputs(energy.seconds.copy(), energy.values[:, columns].copy())

    def energy_lines(self, batch: list[BucketInputs]) -> tuple[list[str], int]:
        """(energy_cost lines, unpriced buckets) for a batch of ``inputs``."""
        energy = buckets_frame(batch)
        if energy.empty:
            return [], 0
        costs = self.costs(energy, detail=False)
        if costs.unpriced:
            log.warning("buckets without a buy price were not priced", site_id=self.site_id,
                        unpriced=costs.unpriced, first=str(costs.data.index[0]))
        return to_line_protocol(energy_cost_frame(costs, self.site_id)), costs.unpriced


def costing_for(sink: Any, site_id: int, zone_name: str,
                site_tariff: Mapping[str, Any] | None, *, at: datetime,
                system_price: float | None = None) -> SiteCosting | None:
    """The site's costing from its stored timeline; with nothing stored, from the tariff the
    site reports (seen ``at``). None (logged) when neither exists or the timeline cannot be
    read: the buckets are imported without costs, and ``tesla-energy cost`` prices them later.
    """
    try:
        timeline = store.load_timeline(sink, site_id)
    except CollectorError as exc:
        log.warning("tariff timeline unreadable; importing without costs (run 'tesla-energy "
                    "cost' later to price these buckets)", site_id=site_id, error=str(exc))
        return None
    if not timeline and site_tariff:
        version = store.snapshot_of({"tariff_content_v2": site_tariff}, at)
        timeline = Timeline([version] if version else [])
    if not timeline:
        log.info("the site reports no tariff and none is declared; no costs",
                 site_id=site_id)
        return None
    return SiteCosting(site_id, zone_name, timeline, system_price)


@dataclass(frozen=True)
class Settled:
    """What ``settle`` computed: every bucket of the months (``costs``) and the charge
    points written (``charges``, with tags as columns)."""

    costs: BucketCosts
    charges: pd.DataFrame
    sessions: int


def charge_rows(costs: BucketCosts, zone: str, system_price: float | None) -> pd.DataFrame:
    parts = [p for p in (charges.daily_points(costs, zone, system_price),
                         charges.demand_points(costs, zone)) if len(p)]
    return pd.concat(parts).sort_index() if parts else charges.daily_points(costs, zone)


def _stale_demand(sink: Any, site_id: int, start: int, end: int,
                  rows: pd.DataFrame) -> pd.DataFrame:
    """Stored demand points of [start, end) that ``rows`` no longer has, set to zero."""
    stored = store.read_charges(sink, site_id, start, end, charges.DEMAND)
    current = {(t, str(p), str(c)) for t, p, c in zip(rows.index, rows["period"],
                                                      rows["currency"], strict=True)}
    keep = np.array([(t, str(p), str(c)) not in current for t, p, c in zip(
        stored.index, stored["period"], stored["currency"], strict=True)], dtype=bool)
    stale = stored[keep].copy()
    for name in ("amount", "baseline_amount", "peak_power_w", "baseline_peak_power_w"):
        stale[name] = 0.0
    return stale


def _session_frame(sink: Any, costing: SiteCosting, start: int, end: int,
                   buckets: pd.DataFrame) -> Frame | None:
    stored = store.read_sessions(sink, costing.site_id, start, end)
    if stored.empty:
        return None
    data = pd.DataFrame({"site_id": str(costing.site_id),
                         "din": stored["din"].to_numpy(dtype=object)}, index=stored.index)
    data["cost"] = sessions.session_costs(stored, costing.timeline, costing.zone_name)
    data["solar_share"] = sessions.solar_shares(stored, buckets)
    return Frame(CHARGE_SESSION.measurement, data, CHARGE_SESSION.tags)


def _uncovered(start: int, end: int, covered: pd.DatetimeIndex,
               zone: str) -> list[tuple[int, int]]:
    """[start, end) ranges of the local days in [start, end) without a bucket in ``covered``
    (local day starts of the buckets held in memory)."""
    days = pd.date_range(pd.Timestamp(start, unit="s", tz="UTC").tz_convert(zone).date(),
                         pd.Timestamp(end - 1, unit="s", tz="UTC").tz_convert(zone).date(),
                         freq="D")
    starts = charges.local_days(days.tz_localize(zone, ambiguous=np.ones(len(days), bool),
                                                 nonexistent="shift_forward"), zone)
    seconds = starts.as_unit("s").asi8
    bounds = np.append(seconds, end)
    missing = ~np.isin(seconds, np.unique(covered.as_unit("s").asi8))
    ranges: list[tuple[int, int]] = []
    for position in np.flatnonzero(missing).tolist():
        begin, stop = int(bounds[position]), int(bounds[position + 1])
        if ranges and ranges[-1][1] == begin:
            ranges[-1] = (ranges[-1][0], stop)
        else:
            ranges.append((begin, stop))
    return ranges


def _buckets(sink: Any, costing: SiteCosting, start: int, end: int,
             known: list[BucketInputs] | None) -> pd.DataFrame:
    """The buckets of [start, end): ``known`` ones (just imported) plus the stored ones of
    the days ``known`` does not cover (read back)."""
    if not known or not any(len(b) for b in known):
        return store.read_energy(sink, costing.site_id, start, end)
    held = buckets_frame(known)
    stamps = held.index.as_unit("s").asi8
    held = held[(stamps >= start) & (stamps < end)]
    covered = charges.local_days(held.index, costing.zone_name)
    parts = [held, *(store.read_energy(sink, costing.site_id, lo, hi)
                     for lo, hi in _uncovered(start, end, covered, costing.zone_name))]
    merged = pd.concat([p for p in parts if len(p)]) if any(len(p) for p in parts) else held
    return merged[~merged.index.duplicated(keep="first")].sort_index()


def _versions_only(buckets: pd.DataFrame, timeline: Timeline) -> BucketCosts:
    """The version of each bucket, all that daily charges need (no pricing)."""
    found = timeline.lookup(epoch_seconds(buckets.index))
    return BucketCosts(pd.DataFrame({"version": found.index, "assumed": found.assumed},
                                    index=buckets.index), timeline)


def settle(sink: Any, costing: SiteCosting, first: date, last: date, *,
           known: list[BucketInputs] | None = None, priced: bool = False) -> Settled:
    """Charges for the local months of first..last and session costs for those days.
    ``known``: buckets just imported (their days are not read back). ``priced``: return
    every bucket's prices and costs too (a report needs them; the charges alone need them
    only when the tariff charges demand)."""
    zone = costing.zone_name
    demand = costing.timeline.has_demand
    # Demand charges (and a report) need whole months; daily charges only the days imported,
    # so a daemon refresh of a tariff without demand charges reads nothing back.
    start, end = (month_span(first, last, zone) if priced or demand
                  else day_span(first, last, zone))
    buckets = _buckets(sink, costing, start, end, known)
    costs = (costing.costs(buckets, detail=demand) if priced or demand
             else _versions_only(buckets, costing.timeline))
    rows = charge_rows(costs, zone, costing.system_price)
    stale = _stale_demand(sink, costing.site_id, start, end, rows)
    written = pd.concat([rows, stale]) if len(stale) else rows
    frames = [charges.charges_frame(written, costing.site_id)]
    lo, hi = day_span(first - timedelta(days=1), last, zone)
    session_frame = _session_frame(sink, costing, lo, hi, buckets)
    if session_frame is not None:
        frames.append(session_frame)
    sink.write([f for f in frames if len(f)])
    return Settled(costs, rows, 0 if session_frame is None else len(session_frame))


def settle_quietly(sink: Any, costing: SiteCosting, first: date, last: date, *,
                   known: list[BucketInputs] | None = None) -> bool:
    """``settle`` after an import: a failure is logged, never fails the import."""
    try:
        settle(sink, costing, first, last, known=known)
        return True
    except CollectorError as exc:
        log.warning("charges and session costs not updated (run 'tesla-energy cost' later)",
                    site_id=costing.site_id, error=str(exc))
        return False


def write_costs(sink: Any, costs: BucketCosts, site_id: int) -> int:
    """Write the energy_cost points of ``costs``; returns how many."""
    frame = energy_cost_frame(costs, site_id)
    if len(frame):
        sink.write(frame)
    return len(frame)


def select(costs: BucketCosts, start: int, end: int) -> BucketCosts:
    """The buckets of ``costs`` starting in [start, end)."""
    seconds = costs.data.index.as_unit("s").asi8
    return BucketCosts(costs.data[(seconds >= start) & (seconds < end)], costs.timeline)


#: The energy_cost columns a report reads (the stored point, or the fresh one in its place),
#: and the bucket energies it reports next to them (from energy_history).
VALUE_COLUMNS = (*ENERGY_COST.field_names, "currency")
ENERGY_COLUMNS = (IMPORTED, EXPORTED, HOME)


@dataclass(frozen=True)
class PricedRange:
    """A report's inputs: the energy_cost values of the range (as stored after this call,
    with the buckets' energies from energy_history), the fresh computation for the same
    buckets, the charge points and what was written."""

    values: pd.DataFrame
    fresh: BucketCosts
    charges: pd.DataFrame
    written: int


def price_range(sink: Any, costing: SiteCosting, first: date, last: date, *,
                recompute_from: date | None = None) -> PricedRange:
    """Settle first..last, then write the energy_cost points that are missing (and, from
    ``recompute_from`` on, rewrite every point with the current timeline)."""
    zone = costing.zone_name
    settled = settle(sink, costing, first, last, priced=True)
    lo, hi = day_span(first, last, zone)
    fresh = select(settled.costs, lo, hi)
    stored = store.read_costs(sink, costing.site_id, lo, hi)
    priced = fresh.priced
    rewrite = ~priced.index.isin(stored.index)
    if recompute_from is not None:
        rewrite |= priced.index.as_unit("s").asi8 >= day_start(recompute_from, zone)
    written = write_costs(sink, BucketCosts(priced[rewrite], fresh.timeline), costing.site_id)
    kept = stored.loc[~stored.index.isin(priced.index[rewrite]), list(VALUE_COLUMNS)]
    values = pd.concat([kept, priced.loc[rewrite, list(VALUE_COLUMNS)]]).sort_index()
    values = values.join(fresh.data[list(ENERGY_COLUMNS)]).fillna(
        dict.fromkeys(ENERGY_COLUMNS, 0.0))
    return PricedRange(values, fresh, settled.charges, written)
