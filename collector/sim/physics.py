"""Seeded physical inputs of one simulated local day, vectorized with numpy.

Clear-sky solar by latitude, day of year and local solar time with seeded clouds; a home load
profile with morning and evening peaks and seeded noise; the day's weather (storm watch),
grid outages and Wall Connector sessions. Every random draw comes from a generator seeded by
``(seed, site index, date, stream)``, so a day's inputs never depend on which days were asked
for first. No battery logic (see ``model``) and no HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from collector.sim.spec import SiteSpec
from collector.sim.timegrid import STEP_SECONDS

_STREAM_CLOUDS, _STREAM_LOAD, _STREAM_WEATHER, _STREAM_WC = 1, 2, 3, 4
STORM_DAY_PROBABILITY = 0.04
OUTAGE_PROBABILITY = (0.025, 0.35)  # (normal day, storm-watch day)
WALL_CONNECTOR_W = 7_680.0


@dataclass(frozen=True)
class Outage:
    """A grid outage (backup event) from ``start`` for ``duration_ms`` (epoch seconds / ms)."""

    start: float
    duration_ms: int

    @property
    def end(self) -> float:
        return self.start + self.duration_ms / 1000.0


@dataclass(frozen=True)
class ChargePlan:
    """A planned Wall Connector session: start (epoch s), duration (s), power (W)."""

    start: int
    duration: int
    power_w: float

    @property
    def end(self) -> int:
        return self.start + self.duration


def rng(seed: int, spec: SiteSpec, day: date, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, spec.index, day.toordinal(), stream])


def clear_sky_w(spec: SiteSpec, mid_utc: np.ndarray, day_of_year: int) -> np.ndarray:
    """Clear-sky PV output (W) at the given instants (Haurwitz irradiance, flat array)."""
    b = 2 * np.pi * (day_of_year - 81) / 364
    eot_min = 9.87 * np.sin(2 * b) - 7.53 * np.cos(b) - 1.5 * np.sin(b)
    solar_hours = (mid_utc % 86400) / 3600 + spec.longitude / 15 + eot_min / 60
    hour_angle = np.radians(15 * (solar_hours - 12))
    decl = np.radians(23.45 * np.sin(2 * np.pi * (284 + day_of_year) / 365))
    lat = np.radians(spec.latitude)
    cosz = np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(hour_angle)
    cosz = np.clip(cosz, 0.0, None)
    ghi = np.where(cosz > 0.01, 1098 * cosz * np.exp(-0.057 / np.maximum(cosz, 0.01)), 0.0)
    return spec.solar_kw * ghi * 0.85


def solar_w(spec: SiteSpec, seed: int, day: date, mid_utc: np.ndarray, storm: bool) -> np.ndarray:
    """PV output (W) with the day's seeded cloud cover (heavy on storm-watch days)."""
    gen = rng(seed, spec, day, _STREAM_CLOUDS)
    cloudiness = 0.9 if storm else float(gen.beta(0.7, 1.8))
    noise = gen.random(len(mid_utc) + 5)
    smooth = np.convolve(noise, np.ones(6) / 6, mode="valid")[: len(mid_utc)]
    factor = 1.0 - cloudiness * np.clip(0.35 + 0.9 * smooth, 0.0, 1.0)
    return clear_sky_w(spec, mid_utc, day.timetuple().tm_yday) * factor


def load_w(spec: SiteSpec, seed: int, day: date, local_hours: np.ndarray) -> np.ndarray:
    """Home load without the Wall Connector (W): base, seasonal, two peaks, seeded noise."""
    gen = rng(seed, spec, day, _STREAM_LOAD)
    weekend = day.weekday() >= 5
    morning_at, morning_w = (9.0, 650.0) if weekend else (7.25, 900.0)
    doy = day.timetuple().tm_yday + (182 if spec.latitude < 0 else 0)
    seasonal = 1.0 + 0.35 * np.cos(2 * np.pi * (doy - 200) / 365)
    profile = (
        spec.base_load_w * seasonal
        + morning_w * np.exp(-(((local_hours - morning_at) / 1.0) ** 2))
        + 1700.0 * seasonal * np.exp(-(((local_hours - 19.0) / 1.7) ** 2))
    )
    noise = gen.lognormal(0.0, 0.22, len(local_hours))
    spikes = (gen.random(len(local_hours)) < 0.03) * gen.uniform(800, 2500, len(local_hours))
    return profile * noise + spikes


def storm_watch(spec: SiteSpec, seed: int, day: date) -> bool:
    """Whether the utility/weather service issues a storm watch for the whole local day."""
    return bool(rng(seed, spec, day, _STREAM_WEATHER).random() < STORM_DAY_PROBABILITY)


def outages(spec: SiteSpec, seed: int, day: date, start: int, end: int) -> list[Outage]:
    """The grid outages that begin during the local day ``[start, end)`` (none recorded for
    a solar-only site: without a gateway there is no backup event)."""
    if spec.solar_only:
        return []
    gen = rng(seed, spec, day, _STREAM_WEATHER)
    stormy = gen.random() < STORM_DAY_PROBABILITY
    if gen.random() >= OUTAGE_PROBABILITY[int(stormy)]:
        return []
    begin = start + float(gen.uniform(0, end - start))
    duration_ms = int(min(gen.exponential(2400.0) + 60.0, 6 * 3600.0) * 1000)
    return [Outage(round(begin, 3), duration_ms)]


def charge_plans(spec: SiteSpec, seed: int, day: date, start: int) -> list[ChargePlan]:
    """Wall Connector sessions plugged in on this local day (evenings, ~45% of days)."""
    if spec.wall_connector_din is None:
        return []
    gen = rng(seed, spec, day, _STREAM_WC)
    if gen.random() >= 0.45:
        return []
    begin = start + int(gen.uniform(17.0, 23.0) * 3600)
    energy_wh = float(gen.uniform(4_000, 32_000))
    duration = int(energy_wh / WALL_CONNECTOR_W * 3600)
    return [ChargePlan(begin, duration, WALL_CONNECTOR_W)]


def overlap_fraction(starts: np.ndarray, spans: list[tuple[float, float]]) -> np.ndarray:
    """Fraction of each 5-minute bucket covered by the union-free ``spans`` (start, end)."""
    covered = np.zeros(len(starts))
    for lo, hi in spans:
        covered += np.clip(np.minimum(starts + STEP_SECONDS, hi) - np.maximum(starts, lo),
                           0, STEP_SECONDS)
    return np.clip(covered / STEP_SECONDS, 0.0, 1.0)
