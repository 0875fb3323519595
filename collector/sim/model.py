"""The simulated site over time: settings history, battery dispatch and the per-day results.

``SiteModel.day(date)`` simulates one local day at 5-minute steps and caches it; the battery's
state of charge is carried from day to day starting at the installation date, so asking for a
day simulates (once) every day before it. Each bucket's energy flows are whole watt-hours
split by source and destination, so the energy balance holds exactly. Live power (W) varies
within its bucket like a real site's (appliances switching, passing clouds; ``flicker``) around
the bucket's Wh x 12, by a wiggle of whole cycles per bucket, so history stays the exact
integral of live power. Settings changes are
kept as a timeline: a bucket uses the settings in force at its end, so a change never alters a
completed bucket and past history stays identical. No HTTP and no JSON shapes here.
"""

from __future__ import annotations

import bisect
import json
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from collector.sim import physics
from collector.sim.physics import ChargePlan, Outage
from collector.sim.spec import SiteSettings, SiteSpec
from collector.sim.tariff import OFF_PEAK, ON_PEAK, slot_table
from collector.sim.timegrid import (
    STEP_SECONDS,
    STEPS_PER_HOUR,
    bucket_starts,
    day_bounds,
    local_date,
    utc_offsets,
)

EFFICIENCY = 0.95  # per direction: round trip ~90 %
INITIAL_CHARGE = 0.5
FLOWS = ("s_home", "s_batt", "s_grid", "b_home", "b_grid", "g_home", "g_batt")
_CACHE_DAYS = 1200
TOTALS = {  # derived totals: which flows add up to each
    "solar": ("s_home", "s_batt", "s_grid"),
    "home": ("s_home", "b_home", "g_home"),
    "charge": ("s_batt", "g_batt"),
    "discharge": ("b_home", "b_grid"),
    "grid_in": ("g_home", "g_batt"),
    "grid_out": ("s_grid", "b_grid"),
}


@dataclass(frozen=True)
class DayResult:
    """One simulated local day. Flow arrays are int64 Wh per 5-minute bucket:
    ``s_*`` solar to home/battery/grid, ``b_*`` battery to home/grid, ``g_*`` grid to
    home/battery; ``wc`` is the Wall Connector's part of home usage; ``soc`` is the stored
    energy (Wh) at each bucket's end, ``soc_start`` the stored energy at the day's start."""

    day: date
    starts: np.ndarray
    flows: dict[str, np.ndarray]
    wc: np.ndarray
    soc: np.ndarray
    soc_start: float
    off_grid: np.ndarray
    storm_active: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)

    def total(self, name: str) -> np.ndarray:
        """Derived per-bucket totals: solar, home, charge, discharge, grid_in, grid_out."""
        f = self.flows
        parts = TOTALS[name]
        return sum((f[p] for p in parts), start=np.zeros(len(self), dtype=np.int64))


@dataclass(frozen=True)
class LiveSample:
    """The site at one instant: powers (W, sign conventions of live_status) and state."""

    at: float
    solar_w: float
    load_w: float
    battery_w: float
    grid_w: float
    wall_connector_w: float
    energy_left_wh: float
    capacity_wh: float
    off_grid: bool
    storm_active: bool

    def whole_watts(self) -> tuple[int, int, int, int]:
        """(solar, battery, grid, load) in whole watts, as live_status reports powers: each
        rounded, the load their sum, so a reply balances exactly as the model does."""
        solar, battery, grid = round(self.solar_w), round(self.battery_w), round(self.grid_w)
        return solar, battery, grid, solar + battery + grid

    @property
    def percentage_charged(self) -> float:
        return 100.0 * self.energy_left_wh / self.capacity_wh if self.capacity_wh else 0.0


@dataclass(frozen=True)
class _Inputs:
    solar: list[int]
    load: list[int]
    wc: list[int]
    off: np.ndarray            # bool per bucket: grid down
    storm_day: bool            # storm watch issued for this day
    period: np.ndarray         # tariff period code per bucket
    setting_idx: np.ndarray    # index into ``changes`` per bucket
    changes: list[SiteSettings]

    def setting(self, name: str, dtype: type = float) -> np.ndarray:
        """One setting's value per bucket."""
        values = np.array([getattr(c, name) for c in self.changes], dtype=dtype)
        return values[self.setting_idx]


class _SharedDays:
    """Process-wide cache of days simulated under a site's initial settings: every model of
    the same site, seed and settings gets identical days, so test servers share the work."""

    def __init__(self, limit: int = 6000) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple, DayResult] = OrderedDict()
        self._limit = limit

    def get(self, key: tuple) -> DayResult | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple, result: DayResult) -> None:
        with self._lock:
            self._items[key] = result
            while len(self._items) > self._limit:
                self._items.popitem(last=False)


SHARED_DAYS = _SharedDays()


class SiteModel:
    """One site's physics and settings history; thread-safe; days computed lazily."""

    def __init__(self, spec: SiteSpec, seed: int) -> None:
        self.spec = spec
        self.seed = seed
        self.zone = ZoneInfo(spec.time_zone)
        self.installed_at = day_bounds(spec.installation_date, self.zone)[0]
        self._lock = threading.RLock()
        self._changes: list[tuple[float, SiteSettings]] = [(-math.inf, spec.settings)]
        self._tables: dict[int, np.ndarray] = {}
        self._days: OrderedDict[date, DayResult] = OrderedDict()
        self._end_soc: dict[date, float] = {}
        tariff = json.dumps(spec.settings.tariff, sort_keys=True)
        self._shared_key = (spec, seed, tariff)

    # --- settings timeline ---------------------------------------------------------------

    @property
    def settings(self) -> SiteSettings:
        return self._changes[-1][1]

    def change_settings(self, at: float, **changes: object) -> SiteSettings:
        """Apply ``changes`` from instant ``at`` on; days from ``at`` on are recomputed."""
        with self._lock:
            new = self.settings.with_changes(**changes)
            keep = bisect.bisect_right([t for t, _ in self._changes], at)
            self._changes = [*self._changes[:keep], (at, new)]
            first = local_date(at, self.zone)
            for day in [d for d in self._days if d >= first]:
                del self._days[day]
            for day in [d for d in self._end_soc if d >= first]:
                del self._end_soc[day]
            return new

    def _setting_index(self, ends: np.ndarray) -> np.ndarray:
        """Index into ``_changes`` of the settings in force at each instant in ``ends``."""
        times = np.asarray([t for t, _ in self._changes])
        return np.searchsorted(times, ends, side="left") - 1

    def _periods(self, idx: np.ndarray, month: int, weekdays: np.ndarray,
                 slots: np.ndarray) -> np.ndarray:
        """Tariff period code of each bucket under the tariff in force for it."""
        codes = np.zeros(len(idx), dtype=np.int64)
        for i in np.unique(idx):
            tariff = self._changes[i][1].tariff
            table = self._tables.get(id(tariff))
            if table is None:
                table = self._tables[id(tariff)] = slot_table(tariff)
            mask = idx == i
            codes[mask] = table[month - 1, weekdays[mask], slots[mask]]
        return codes

    # --- days ------------------------------------------------------------------------------

    def day(self, day: date) -> DayResult | None:
        """The simulated local day, or None before the installation date."""
        if day < self.spec.installation_date:
            return None
        with self._lock:
            cached = self._days.get(day)
            if cached is not None:
                self._days.move_to_end(day)
                return cached
            return self._compute_through(day)

    def _compute_through(self, day: date) -> DayResult:
        start = self._first_missing_soc(day)
        soc = self._soc_before(start)
        result = None
        current = start
        while current <= day:
            result = self._shared_or_simulate(current, soc)
            soc = float(result.soc[-1])
            self._end_soc[current] = soc
            self._remember(result)
            current += timedelta(days=1)
        assert result is not None
        return result

    def _shared_or_simulate(self, day: date, soc: float) -> DayResult:
        """A day from the process-wide cache when only the initial settings apply to it."""
        shareable = len(self._changes) == 1 or day_bounds(day, self.zone)[1] <= self._changes[1][0]
        key = (*self._shared_key, day)
        found = SHARED_DAYS.get(key) if shareable else None
        if found is not None and found.soc_start == soc:
            return found
        result = self._simulate(day, soc)
        if shareable:
            SHARED_DAYS.put(key, result)
        return result

    def _first_missing_soc(self, day: date) -> date:
        """The earliest day whose end state is unknown among those ``day`` depends on."""
        current = day - timedelta(days=1)
        while current >= self.spec.installation_date and current not in self._end_soc:
            current -= timedelta(days=1)
        return current + timedelta(days=1)

    def _soc_before(self, day: date) -> float:
        previous = day - timedelta(days=1)
        if previous < self.spec.installation_date:
            return INITIAL_CHARGE * self.spec.capacity_wh
        return self._end_soc[previous]

    def _remember(self, result: DayResult) -> None:
        self._days[result.day] = result
        self._days.move_to_end(result.day)
        while len(self._days) > _CACHE_DAYS:
            self._days.popitem(last=False)

    def outages(self, day: date) -> list[Outage]:
        start, end = day_bounds(day, self.zone)
        return physics.outages(self.spec, self.seed, day, start, end)

    def charge_plans(self, day: date) -> list[ChargePlan]:
        return physics.charge_plans(self.spec, self.seed, day, day_bounds(day, self.zone)[0])

    def _events_near(self, day: date) -> tuple[list[Outage], list[ChargePlan]]:
        days = [d for d in (day - timedelta(days=1), day) if d >= self.spec.installation_date]
        outs = [o for d in days for o in self.outages(d)]
        plans = [p for d in days for p in self.charge_plans(d)]
        return outs, plans

    def _inputs(self, day: date, starts: np.ndarray) -> _Inputs:
        spec, seed = self.spec, self.seed
        local = starts + utc_offsets(starts, self.zone)
        local_hours = ((local % 86400) + STEP_SECONDS / 2) / 3600
        storm_day = physics.storm_watch(spec, seed, day)
        solar = physics.solar_w(spec, seed, day, starts + STEP_SECONDS / 2, storm_day)
        load = physics.load_w(spec, seed, day, local_hours)
        outs, plans = self._events_near(day)
        off = physics.overlap_fraction(starts, [(o.start, o.end) for o in outs]) > 0
        wc = sum((p.power_w * physics.overlap_fraction(starts, [(p.start, p.end)])
                  for p in plans), start=np.zeros(len(starts)))
        idx = self._setting_index(starts + STEP_SECONDS)
        weekdays = (local // 86400 + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
        slots = (local % 86400) // STEP_SECONDS
        periods = self._periods(idx, day.month, weekdays, slots)
        changes = [c for _, c in self._changes]
        return _Inputs(_wh(solar), _wh(load), _wh(wc), off, storm_day, periods, idx, changes)

    def _simulate(self, day: date, soc: float) -> DayResult:
        starts = bucket_starts(day, self.zone)
        inputs = self._inputs(day, starts)
        flows, wc, socs = dispatch(inputs, soc, self.spec.capacity_wh,
                                   self.spec.max_power_w // STEPS_PER_HOUR)
        return DayResult(
            day=day,
            starts=starts,
            flows={k: np.asarray(v, dtype=np.int64) for k, v in flows.items()},
            wc=np.asarray(wc, dtype=np.int64),
            soc=np.asarray(socs),
            soc_start=soc,
            off_grid=inputs.off,
            storm_active=inputs.setting("storm_mode_enabled", bool) & inputs.storm_day,
        )

    # --- instants --------------------------------------------------------------------------

    def live(self, at: float) -> LiveSample:
        """Powers at ``at``: the 5-minute bucket's mean power (its Wh x 12) plus the bucket's
        ``flicker`` at that instant, and the state of charge interpolated within it."""
        cap = float(self.spec.capacity_wh)
        result = self.day(local_date(at, self.zone)) if at >= self.installed_at else None
        if result is None:
            return LiveSample(at, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, cap, False, False)
        i = int((at - result.starts[0]) // STEP_SECONDS)
        i = min(max(i, 0), len(result) - 1)
        before = result.soc_start if i == 0 else float(result.soc[i - 1])
        frac = (at - result.starts[i]) / STEP_SECONDS
        f = {name: int(values[i]) * STEPS_PER_HOUR for name, values in result.flows.items()}
        w = {name: float(sum(f[p] for p in parts)) for name, parts in TOTALS.items()}
        wall_connector = float(result.wc[i]) * STEPS_PER_HOUR
        battery, grid = w["discharge"] - w["charge"], w["grid_in"] - w["grid_out"]
        off_grid = bool(result.off_grid[i])
        bucket_key = (self.seed * 1_000_003 + self.spec.site_id) * 1_000_033 + int(result.starts[i])
        wiggle = flicker(bucket_key, frac)
        # Who follows the wiggle: the battery when it is working (or the grid is down), as a
        # Powerwall holds the grid near 0 W; else the grid. Never past the battery's power.
        follows_battery = off_grid or battery != 0.0
        headroom = (self.spec.max_power_w - abs(battery)) if follows_battery else math.inf
        home_swing = min(0.08 * (w["home"] - wall_connector), 200.0)
        solar_swing = min(0.04 * w["solar"], 150.0)
        scale = min(1.0, max(0.0, headroom) / max(home_swing + solar_swing, 1e-9))
        home_delta, solar_delta = (scale * home_swing * wiggle[0],
                                   scale * solar_swing * wiggle[1])
        if follows_battery:
            battery += home_delta - solar_delta
        else:
            grid += home_delta - solar_delta
        return LiveSample(
            at=at,
            solar_w=w["solar"] + solar_delta,
            load_w=w["home"] + home_delta,
            battery_w=battery,
            grid_w=grid,
            wall_connector_w=wall_connector,
            energy_left_wh=before + (float(result.soc[i]) - before) * frac,
            capacity_wh=cap,
            off_grid=off_grid,
            storm_active=bool(result.storm_active[i]),
        )


#: Cycles per bucket of the two sine waves of a ``flicker`` (whole numbers: each integrates
#: to zero over its bucket).
_FLICKER_CYCLES = (5, 29)  # a minute and about 10 s: visible from one poll to the next


def _unit_hash(key: int, n: int) -> float:
    """A number in [0, 1) drawn from ``(key, n)`` (Fibonacci hashing, 64-bit)."""
    mixed = ((key * 2 + 1) * (n + 1) * 0x9E3779B97F4A7C15) & 0xFFFF_FFFF_FFFF_FFFF
    return (mixed >> 40) / (1 << 24)


def flicker(key: int, frac: float) -> tuple[float, float]:
    """(home, solar) variation in [-1, 1] at ``frac`` (0..1) of the bucket identified by
    ``key``: two sine waves of whole cycles per bucket with phases drawn from ``key``, so each
    has mean zero over the bucket and a given instant always gives the same values."""
    phases = [_unit_hash(key, n) * 2 * math.pi for n in range(4)]
    angle = 2 * math.pi * frac
    low, high = _FLICKER_CYCLES
    home = 0.6 * math.sin(low * angle + phases[0]) + 0.4 * math.sin(high * angle + phases[1])
    solar = 0.6 * math.sin(low * angle + phases[2]) + 0.4 * math.sin(high * angle + phases[3])
    return home, solar


def _wh(power_w: np.ndarray) -> list[int]:
    return np.rint(np.asarray(power_w, dtype=float) / STEPS_PER_HOUR).astype(np.int64).tolist()


def dispatch(inputs: _Inputs, soc: float, capacity: int,
             max_wh: int) -> tuple[dict[str, list[int]], list[int], list[float]]:
    """Battery and grid decisions bucket by bucket (sequential: each depends on the charge).

    The per-bucket rules are precomputed as arrays (``_Rules``); this loop only does the
    arithmetic that depends on the state of charge. Returns the whole-Wh flows in ``FLOWS``
    order, the Wall Connector energy delivered and the stored energy after each bucket.
    """
    r = _Rules.of(inputs, capacity)
    out: tuple[list[int], ...] = tuple([] for _ in FLOWS)
    add = tuple(column.append for column in out)
    wc_out: list[int] = []
    socs: list[float] = []
    cap, eff = float(capacity), EFFICIENCY
    rows = zip(inputs.solar, inputs.load, inputs.wc, r.floor, r.wc_reserve, r.off, r.export,
               r.hold, r.battery_export, r.grid_charge, strict=True)
    for sol, load, wc, floor, wc_reserve, off, export, hold, bexp, gcharge in rows:
        if off and soc < wc_reserve:
            wc = 0
        home = load + wc
        room = int((cap - soc) / eff) if soc < cap else 0
        avail = int((soc - floor) * eff) if soc > floor else 0
        sh = sol if sol < home else home
        sb = min(sol - sh, max_wh, room)
        sg = sol - sh - sb if export else 0
        bh = 0 if hold else min(home - sh, max_wh, avail)
        bg = max(0, min(max_wh, avail) - bh) if bexp and sb == 0 else 0
        gh = 0 if off else home - sh - bh
        gb = max(0, min(max_wh, room) - sb) if gcharge else 0
        soc += (sb + gb) * eff - (bh + bg) / eff
        soc = 0.0 if soc < 0.0 else (cap if soc > cap else soc)
        add[0](sh), add[1](sb), add[2](sg), add[3](bh), add[4](bg), add[5](gh), add[6](gb)
        socs.append(soc)
        wc_out.append(wc if sh + bh + gh >= home else 0)
    return dict(zip(FLOWS, out, strict=True)), wc_out, socs


@dataclass(frozen=True)
class _Rules:
    """Per-bucket dispatch rules derived from settings, tariff period, storm and outage."""

    floor: list[float]          # Wh the battery keeps (reserve; full in storm; 0 off grid)
    wc_reserve: list[float]     # Wh below which the car may not charge off grid
    off: list[bool]
    export: list[bool]          # solar may go to the grid
    hold: list[bool]            # battery must not discharge to the home
    battery_export: list[bool]  # battery discharges at full power to the grid (peak)
    grid_charge: list[bool]     # battery charges from the grid

    @classmethod
    def of(cls, inputs: _Inputs, capacity: int) -> _Rules:
        off = inputs.off
        storm = inputs.setting("storm_mode_enabled", bool) & inputs.storm_day & ~off
        period = inputs.period
        auto = inputs.setting("default_real_mode", object) == "autonomous"
        rule = inputs.setting("customer_preferred_export_rule", object)
        no_grid_charge = inputs.setting("disallow_charge_from_grid_with_solar_installed", bool)
        reserve = inputs.setting("backup_reserve_percent") / 100
        floor = np.where(off, 0.0, np.where(storm, 1.0, reserve)) * capacity
        export = ~off & (rule != "never")
        return cls(
            floor=floor.tolist(),
            wc_reserve=(inputs.setting("off_grid_vehicle_charging_reserve_percent")
                        * capacity / 100).tolist(),
            off=off.tolist(),
            export=export.tolist(),
            hold=(storm | (auto & (period == OFF_PEAK) & ~off)).tolist(),
            battery_export=(auto & (period == ON_PEAK) & export & ~storm
                            & (rule == "battery_ok")).tolist(),
            grid_charge=(storm | (auto & (period == OFF_PEAK) & ~off & ~no_grid_charge)).tolist(),
        )
