"""What a simulated site is: its fixed hardware and location (``SiteSpec``), its changeable
settings (``SiteSettings``) and the whole simulator's configuration (``SimConfig``).

Plain data plus the rules that derive default sites from a seed; no physics, no HTTP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from collector.sim.clock import SimClock
from collector.sim.tariff import default_tariff

EXPORT_RULES = ("battery_ok", "pv_only", "never")
MODES = ("self_consumption", "autonomous")
POWERWALL_WH = 13_500
POWERWALL_W = 5_000
DEFAULT_ZONES = ("America/Los_Angeles", "Australia/Adelaide", "America/Phoenix")
_LOCATIONS = {  # zone -> (latitude, longitude)
    "America/Los_Angeles": (34.05, -118.25),
    "Australia/Adelaide": (-34.93, 138.60),
    "America/Phoenix": (33.45, -112.07),
    "Europe/London": (51.51, -0.13),
    "Europe/Berlin": (52.52, 13.40),
    "America/New_York": (40.71, -74.01),
    "America/Denver": (39.74, -104.99),
    "Australia/Sydney": (-33.87, 151.21),
    "Asia/Kolkata": (28.61, 77.21),
}
SITE_ID_BASE = 2_252_000_000_000
#: The system's zone tables: each zone's principal location (ISO 6709 coordinates).
ZONE_TABLES = (Path("/usr/share/zoneinfo/zone1970.tab"), Path("/usr/share/zoneinfo/zone.tab"))
_COORDINATES = re.compile(r"([+-])(\d{2})(\d{2})(\d{2})?([+-])(\d{3})(\d{2})(\d{2})?$")


def zone_location(zone: str) -> tuple[float, float]:
    """(latitude, longitude) where a site of ``zone`` stands, so its sun rises in the morning
    of its own clock: the table above, else the zone's location in the system's zone tables,
    else the longitude of its standard UTC offset (15 degrees an hour) at 37 degrees north,
    or south when its summer time falls in January."""
    return _LOCATIONS.get(zone) or _tabled_locations().get(zone) or _offset_location(zone)


@lru_cache(maxsize=1)
def _tabled_locations() -> dict[str, tuple[float, float]]:
    found: dict[str, tuple[float, float]] = {}
    for table in reversed(ZONE_TABLES):  # zone1970.tab last: it wins
        try:
            text = table.read_text(encoding="utf-8")
        except OSError:
            continue
        for line in text.splitlines():
            fields = line.split("\t")
            match = _COORDINATES.match(fields[1]) if len(fields) >= 3 else None
            if match and not line.startswith("#"):
                found[fields[2]] = _degrees(match.groups())
    return found


def _degrees(parts: tuple[str | None, ...]) -> tuple[float, float]:
    lat_sign, lat_d, lat_m, lat_s, lon_sign, lon_d, lon_m, lon_s = parts

    def value(sign: str | None, d: str | None, m: str | None, sec: str | None) -> float:
        magnitude = int(d or 0) + int(m or 0) / 60 + int(sec or 0) / 3600
        return -magnitude if sign == "-" else magnitude

    return value(lat_sign, lat_d, lat_m, lat_s), value(lon_sign, lon_d, lon_m, lon_s)


def _offset_location(zone: str) -> tuple[float, float]:
    tz = ZoneInfo(zone)
    offsets = [datetime(2025, month, 15, tzinfo=UTC).astimezone(tz).utcoffset()
               for month in (1, 7)]
    hours = [o.total_seconds() / 3600 if o is not None else 0.0 for o in offsets]
    southern = hours[0] > hours[1]  # more offset in January: summer time then
    return (-35.0 if southern else 37.0), 15.0 * min(hours)


@dataclass(frozen=True)
class SiteSettings:
    """Everything the six POST commands can change."""

    default_real_mode: str = "self_consumption"
    backup_reserve_percent: int = 20  # whole percents, as the real site_info has them
    storm_mode_enabled: bool = True
    customer_preferred_export_rule: str = "battery_ok"
    disallow_charge_from_grid_with_solar_installed: bool = False
    off_grid_vehicle_charging_reserve_percent: int = 20
    tariff: dict[str, Any] = field(default_factory=default_tariff, compare=False)

    def with_changes(self, **changes: Any) -> SiteSettings:
        return replace(self, **changes)


@dataclass(frozen=True)
class SiteSpec:
    """The fixed facts of one site; the flags after ``wall_connector_din`` switch on the real
    API's oddities. ``powerwalls=0`` is a solar-only site (no battery, no backup events, no
    tariff, battery-less live_status and site_info)."""

    site_id: int
    name: str
    time_zone: str
    latitude: float
    longitude: float
    installation_date: date
    powerwalls: int = 2
    solar_kw: float = 7.6
    base_load_w: float = 350.0
    wall_connector_din: str | None = "1457768-02-G--PGT2212345ABCD"
    report_installation_zone: bool = True   # False: site_info installation_time_zone == ""
    report_energy_left: bool = True         # False: live_status omits energy_left/total_pack
    null_wall_connectors: bool = False      # True: live_status wall_connectors is null
    history_zone: str = "name"              # "offset": history replies carry only
    #                                         time_zone_offset, no installation_time_zone
    tariff_format: str = "v2"               # "v1": site_info has tariff_content + tariff_id
    index: int = 0
    settings: SiteSettings = field(default_factory=SiteSettings)

    @property
    def solar_only(self) -> bool:
        return self.powerwalls == 0

    @property
    def capacity_wh(self) -> int:
        return POWERWALL_WH * self.powerwalls

    @property
    def max_power_w(self) -> int:
        return POWERWALL_W * self.powerwalls

    @property
    def gateway_din(self) -> str:
        return f"1232100-00-E--TG1{self.site_id % 10**9:09d}"


@dataclass
class SimConfig:
    """The simulator's configuration; ``sites`` is a count or explicit ``SiteSpec``s. With a
    count, the last ``solar_only`` sites have no Powerwall and the last ``v1_tariff`` of the
    others serve their tariff as v1 ``tariff_content``. ``backup_page_size``: backup histories
    with more events are paged with ``next_end_date``."""

    sites: int | tuple[SiteSpec, ...] = 1
    seed: int = 0
    time_zone: str | None = None
    installation_date: date | None = None
    clock: SimClock = field(default_factory=SimClock)
    token: str | None = None
    access_token_ttl: int = 28_800
    host: str = "127.0.0.1"
    port: int = 0
    faults: Any = None  # a collector.sim.faults.FaultConfig; None = no faults
    solar_only: int = 0
    v1_tariff: int = 0
    backup_page_size: int = 50

    def site_specs(self) -> tuple[SiteSpec, ...]:
        if not isinstance(self.sites, int):
            return tuple(self.sites)
        if self.solar_only + self.v1_tariff > self.sites:
            raise ValueError(f"{self.solar_only} solar-only and {self.v1_tariff} v1-tariff "
                             f"sites do not fit in {self.sites} sites")
        installed = self.installation_date or (
            date.fromtimestamp(self.clock.now()) - timedelta(days=730))
        specs = [default_site(i, self.seed, installed, self.time_zone)
                 for i in range(self.sites)]
        solar_from = self.sites - self.solar_only
        v1_from = solar_from - self.v1_tariff
        return tuple(solar_only(spec) if i >= solar_from else
                     replace(spec, tariff_format="v1") if i >= v1_from else spec
                     for i, spec in enumerate(specs))


def solar_only(spec: SiteSpec) -> SiteSpec:
    """``spec`` without Powerwall and Wall Connector (live_status wall_connectors null)."""
    return replace(spec, powerwalls=0, wall_connector_din=None, null_wall_connectors=True)


def default_site(index: int, seed: int, installed: date, first_zone: str | None) -> SiteSpec:
    """Site ``index`` of a seeded fleet: zones cycle through ``DEFAULT_ZONES`` (the first one
    replaced by ``first_zone``); quirks rotate so a 3-site fleet shows each of them."""
    zones = ((first_zone or DEFAULT_ZONES[0]),) + DEFAULT_ZONES[1:]
    zone = zones[index % len(zones)]
    lat, lon = zone_location(zone)
    site_id = SITE_ID_BASE + (seed % 100_000) * 100 + index + 1
    quirk = index % 3
    return SiteSpec(
        site_id=site_id,
        name=f"Sim Home {index + 1}",
        time_zone=zone,
        latitude=lat,
        longitude=lon,
        installation_date=installed,
        powerwalls=(2, 1, 3)[quirk],
        solar_kw=(7.6, 6.6, 11.4)[quirk],
        base_load_w=(350.0, 280.0, 450.0)[quirk],
        wall_connector_din=f"1457768-02-G--PGT22{site_id % 10**7:07d}" if quirk == 0 else None,
        report_installation_zone=quirk != 1,
        report_energy_left=quirk != 1,
        null_wall_connectors=quirk == 1,  # quirk 2: []
        index=index,
    )
