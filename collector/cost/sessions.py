"""Cost and solar share of Wall Connector charge sessions.

- ``cost``: the session's ``energy_added_wh`` spread evenly over its duration, cut at every
  wall-clock minute, each slice priced at the buy price in force at its start (the version the
  timeline gives for that instant, the site's zone, wall-clock periods). A session without a
  duration is priced at its start. Unpriced slices leave the session without a cost.
- ``solar_share``: over the energy buckets the session overlaps, the share of home
  consumption that came from solar (``consumer_energy_imported_from_solar /
  total_home_usage``, 0-1); absent when those buckets are not stored or the home used nothing.

Pure: a sessions frame and buckets in, the two columns out, no I/O.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from collector.cost.compute import HOME, SOLAR_TO_HOME, column, epoch_seconds, prices, step_seconds
from collector.cost.timeline import Timeline

SLICE_SECONDS = 60


def _slices(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(session number, slice start, slice seconds) cutting each [start, end) at whole
    minutes; a session with ``end <= start`` is one zero-length slice at its start."""
    owners, begins, lengths = [], [], []
    for number, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        if end <= start:
            owners.append(np.array([number]))
            begins.append(np.array([start]))
            lengths.append(np.array([0]))
            continue
        cuts = np.arange((start // SLICE_SECONDS + 1) * SLICE_SECONDS, end, SLICE_SECONDS)
        edges = np.concatenate(([start], cuts, [end]))
        owners.append(np.full(len(edges) - 1, number))
        begins.append(edges[:-1])
        lengths.append(np.diff(edges))
    if not owners:
        empty = np.array([], dtype="int64")
        return empty, empty, empty
    return np.concatenate(owners), np.concatenate(begins), np.concatenate(lengths)


def session_costs(sessions: pd.DataFrame, timeline: Timeline, zone: str) -> np.ndarray:
    """Cost per session (NaN where any slice has no buy price or the energy is unknown)."""
    count = len(sessions)
    if not count or not timeline:
        return np.full(count, np.nan)
    starts = epoch_seconds(sessions.index)
    durations = np.nan_to_num(sessions["duration_seconds"].to_numpy(dtype="float64",
                                                                    na_value=np.nan), nan=0.0)
    ends = starts + np.round(durations).astype("int64")
    energy = sessions["energy_added_wh"].to_numpy(dtype="float64", na_value=np.nan)
    owners, begins, lengths = _slices(starts, ends)
    index = pd.DatetimeIndex(begins.astype("datetime64[s]")).tz_localize("UTC")
    buy = prices(index, timeline, zone, detail=False)["buy"]
    spans = (ends - starts).astype("float64")
    share = np.where(spans[owners] > 0, lengths / np.where(spans[owners] > 0, spans[owners], 1),
                     1.0)
    slice_cost = energy[owners] * share / 1000.0 * buy
    cost = np.bincount(owners, weights=np.nan_to_num(slice_cost, nan=0.0), minlength=count)
    unpriced = np.bincount(owners, weights=np.isnan(slice_cost), minlength=count) > 0
    return np.where(unpriced | np.isnan(energy), np.nan, cost)


def solar_shares(sessions: pd.DataFrame, buckets: pd.DataFrame) -> np.ndarray:
    """Solar share of home usage over the buckets each session overlaps (NaN: unknown)."""
    count = len(sessions)
    if not count or buckets.empty:
        return np.full(count, np.nan)
    buckets = buckets.sort_index()
    times = epoch_seconds(buckets.index)
    step = step_seconds(buckets.index)
    solar = np.concatenate(([0.0], np.cumsum(column(buckets, SOLAR_TO_HOME))))
    home = np.concatenate(([0.0], np.cumsum(column(buckets, HOME))))
    starts = epoch_seconds(sessions.index)
    durations = np.nan_to_num(sessions["duration_seconds"].to_numpy(dtype="float64",
                                                                    na_value=np.nan), nan=0.0)
    ends = np.maximum(starts + np.round(durations).astype("int64"), starts + 1)
    first = np.searchsorted(times + step, starts, side="right")  # first bucket ending after
    last = np.searchsorted(times, ends, side="left")  # buckets starting before the end
    used = home[last] - home[np.minimum(first, last)]
    from_solar = solar[last] - solar[np.minimum(first, last)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((last > first) & (used > 0), from_solar / np.where(used > 0, used, 1),
                        np.nan)
