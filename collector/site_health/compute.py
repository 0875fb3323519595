"""Battery health and outage figures: pure pandas, no I/O.

- ``daily_energy``: energy_history buckets summed per local day (battery in and out).
- ``health_frame``: per local day the round-trip efficiency over the trailing
  ``WINDOW_DAYS`` (battery_energy_exported / the battery_energy_imported_from_* fields),
  the equivalent full cycles (that day's discharge / nameplate_energy) and a capacity estimate:
  the day's largest plausible live ``total_pack_energy``, else the largest state-of-charge
  swing of at least ``SWING_POINTS`` (net Wh discharged between the two live samples / the
  percentage points dropped x 100).
- ``outage_frame``: per backup event the home, battery and solar Wh of the buckets it spans
  (a partial bucket counts with the share of it the outage covers) and the state of charge of
  the live samples nearest its start and end.

Nothing here reads or writes InfluxDB (``collector.site_health.service`` does).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from collector.cost.charges import local_days

EXPORTED = "battery_energy_exported"
IMPORTED = ("battery_energy_imported_from_grid", "battery_energy_imported_from_solar",
            "battery_energy_imported_from_generator")
HISTORY_INPUTS = (EXPORTED, *IMPORTED, "total_home_usage", "solar_energy_exported")
LIVE_INPUTS = ("total_pack_energy", "percentage_charged", "battery_power")

#: Trailing window of the round-trip efficiency, in local days (the day itself included).
WINDOW_DAYS = 30
#: A state-of-charge drop of at least this many percentage points gives a capacity estimate.
SWING_POINTS = 20.0
#: Two live samples further apart than this break a swing (the power between them is unknown).
MAX_SAMPLE_GAP_S = 900
#: ``total_pack_energy`` outside this share of nameplate_energy is implausible (absent):
#: real sites often report 1 or 0.
PACK_PLAUSIBLE = (0.5, 1.5)
#: A live sample within this many seconds of an outage's start or end gives its SoC.
SOC_TOLERANCE_S = 600
#: Bucket length when the buckets read do not show it (Tesla's day history: 5 minutes).
DEFAULT_BUCKET_S = 300
HEALTH_COLUMNS = ("round_trip_efficiency", "cycles", "capacity_wh", "capacity_percent")
OUTAGE_COLUMNS = ("home_usage_wh", "battery_energy_wh", "solar_energy_wh", "soc_start",
                  "soc_end")


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].astype("float64")
    return pd.Series(np.nan, index=frame.index, dtype="float64")


def daily_energy(buckets: pd.DataFrame, zone: str) -> pd.DataFrame:
    """Per local day start (UTC instant): ``exported`` and ``imported`` battery Wh."""
    exported = _column(buckets, EXPORTED).fillna(0.0)
    imported = sum((_column(buckets, n).fillna(0.0) for n in IMPORTED),
                   pd.Series(0.0, index=buckets.index))
    days = local_days(buckets.index, zone) if len(buckets) else buckets.index
    frame = pd.DataFrame({"exported": exported.to_numpy(), "imported": imported.to_numpy()},
                         index=days)
    return frame.groupby(level=0).sum().sort_index()


def trailing_efficiency(daily: pd.DataFrame, zone: str) -> pd.Series:
    """Exported / imported over each day and the ``WINDOW_DAYS - 1`` local days before it
    (days without buckets add nothing); NaN where nothing was imported."""
    if daily.empty:
        return pd.Series(dtype="float64")
    dates = daily.index.tz_convert(zone).tz_localize(None).normalize()
    by_date = pd.DataFrame(daily.to_numpy(), columns=daily.columns, index=dates)
    full = by_date.reindex(pd.date_range(dates.min(), dates.max(), freq="D"), fill_value=0.0)
    sums = full.rolling(WINDOW_DAYS, min_periods=1).sum().loc[dates]
    ratio = sums["exported"] / sums["imported"].where(sums["imported"] > 0)
    return pd.Series(ratio.to_numpy(), index=daily.index)


def pack_capacity(live: pd.DataFrame, zone: str, nameplate: float) -> pd.Series:
    """Per local day start: the largest plausible ``total_pack_energy`` (Wh)."""
    pack = _column(live, "total_pack_energy")
    low, high = PACK_PLAUSIBLE
    pack = pack[(pack >= low * nameplate) & (pack <= high * nameplate)]
    if pack.empty:
        return pd.Series(dtype="float64")
    return pack.groupby(local_days(pack.index, zone)).max()


def swing(samples: pd.DataFrame) -> float:
    """Capacity (Wh) from the largest SoC drop in ``samples`` (one day, sorted), or NaN when
    it is under ``SWING_POINTS`` or a gap breaks it. Energy: trapezoid of battery_power."""
    data = samples[["percentage_charged", "battery_power"]].dropna()
    if len(data) < 2:
        return float("nan")
    soc = data["percentage_charged"].to_numpy()
    peak = np.maximum.accumulate(soc)
    end = int(np.argmax(peak - soc))
    start = int(np.flatnonzero(soc[: end + 1] == peak[end])[-1])
    dropped = peak[end] - soc[end]
    if dropped < SWING_POINTS:
        return float("nan")
    seconds = data.index.as_unit("s").asi8[start:end + 1].astype("float64")
    if (np.diff(seconds) > MAX_SAMPLE_GAP_S).any():
        return float("nan")
    power = data["battery_power"].to_numpy()[start:end + 1]
    wh = float(np.sum((power[1:] + power[:-1]) / 2.0 * np.diff(seconds)) / 3600.0)
    return wh / dropped * 100.0 if wh > 0 else float("nan")


def swing_capacity(live: pd.DataFrame, zone: str) -> pd.Series:
    """Per local day start: the capacity from that day's largest SoC swing (days without one
    left out)."""
    if live.empty or "percentage_charged" not in live or "battery_power" not in live:
        return pd.Series(dtype="float64")
    found = live.sort_index().groupby(local_days(live.index, zone)).apply(swing)
    return found.dropna().astype("float64")


def health_frame(buckets: pd.DataFrame, live: pd.DataFrame, zone: str, nameplate: float,
                 first: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """``HEALTH_COLUMNS`` per local day start in [first, end): days with buckets or a
    capacity estimate. ``buckets`` may start ``WINDOW_DAYS`` earlier (the trailing window)."""
    daily = daily_energy(buckets, zone)
    frame = pd.DataFrame({"round_trip_efficiency": trailing_efficiency(daily, zone),
                          "cycles": daily["exported"] / nameplate})
    capacity = pack_capacity(live, zone, nameplate)
    swings = swing_capacity(live, zone)
    capacity = pd.concat([capacity, swings[~swings.index.isin(capacity.index)]]).sort_index()
    frame = frame.join(capacity.rename("capacity_wh"), how="outer")
    frame["capacity_percent"] = frame["capacity_wh"] / nameplate * 100.0
    frame = frame[(frame.index >= first) & (frame.index < end)]
    frame.index.name = "time"
    return frame[list(HEALTH_COLUMNS)]


def bucket_length(seconds: np.ndarray) -> float:
    steps = np.diff(np.unique(seconds))
    return float(steps.min()) if len(steps) else float(DEFAULT_BUCKET_S)


def _spanned(buckets: pd.DataFrame, start: float, stop: float, length: float) -> pd.Series:
    """Each field's Wh in [start, stop): a bucket counts with the share the range covers."""
    begins = buckets.index.as_unit("s").asi8.astype("float64")
    overlap = np.clip(np.minimum(begins + length, stop) - np.maximum(begins, start), 0.0, None)
    share = overlap / length
    return (buckets.fillna(0.0).mul(share, axis=0)).sum()


def _nearest(soc: pd.Series, instant: float) -> float:
    if soc.empty:
        return float("nan")
    distance = np.abs(soc.index.as_unit("s").asi8.astype("float64") - instant)
    best = int(np.argmin(distance))
    return float(soc.iloc[best]) if distance[best] <= SOC_TOLERANCE_S else float("nan")


def outage_frame(events: pd.DataFrame, buckets: pd.DataFrame,
                 live: pd.DataFrame) -> pd.DataFrame:
    """``OUTAGE_COLUMNS`` per backup event (index: event start, column ``duration_seconds``).
    Energy is NaN when no bucket overlaps the event (history not imported), SoC when no live
    sample is within ``SOC_TOLERANCE_S`` of the start or end."""
    length = bucket_length(buckets.index.as_unit("s").asi8) if len(buckets) else 0.0
    fields = {"home_usage_wh": "total_home_usage", "battery_energy_wh": EXPORTED,
              "solar_energy_wh": "solar_energy_exported"}
    energy = pd.DataFrame({n: _column(buckets, f) for n, f in fields.items()})
    soc = _column(live, "percentage_charged").dropna().sort_index()
    begins = energy.index.as_unit("s").asi8 if len(energy) else np.zeros(0, "int64")
    rows = []
    for instant, duration in zip(events.index.as_unit("s").asi8,
                                 _column(events, "duration_seconds"), strict=True):
        start, stop = float(instant), float(instant) + float(np.nan_to_num(duration))
        row = dict.fromkeys(fields, float("nan"))
        near = energy[(begins < stop) & (begins + length > start)]
        if len(near) and stop > start:
            row.update(_spanned(near, start, stop, length).to_dict())
        row["soc_start"] = _nearest(soc, start)
        row["soc_end"] = _nearest(soc, stop)
        rows.append(row)
    return pd.DataFrame(rows, index=events.index, columns=list(OUTAGE_COLUMNS))
