"""Declarative field tables: every measurement's tags and fields with name, unit and kind.

This is the one place that fixes the InfluxDB schema of ``DESIGN.md`` §2. A field's kind
decides its pandas dtype and its line-protocol type, so a field never changes type in InfluxDB
(InfluxDB rejects a float field written as an integer later). Power is float W, energy float
Wh, percentages float 0-100. ``source`` is the path of the value in the API's JSON when it
differs from the field name. ``limit`` is the field kind's plausibility range (power, stored
energy, energy per bucket, percent, duration, count, code); ``TimeBounds`` is the plausible
range of a site's point times. A record with a value outside them is skipped.

Pure data, value coercion and plausibility checks: no I/O, no clock, no pandas frames.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any


class Kind(enum.Enum):
    FLOAT = "float"
    INT = "int"
    BOOL = "bool"
    STR = "str"


#: pandas dtype per kind; nullable so an absent value stays absent (never becomes 0).
DTYPES: dict[Kind, Any] = {Kind.FLOAT: "float64", Kind.INT: "Int64", Kind.BOOL: "boolean",
                           Kind.STR: object}


class MalformedRecord(ValueError):
    """One API record cannot be used (bad timestamp, wrong value type): skip it and log."""


class ImplausibleRecord(MalformedRecord):
    """A record holds a value no real site can produce (``1e308`` W, a point dated 1900):
    skipped like a malformed one, so it never reaches InfluxDB and poisons no sum."""


# --- plausibility limits per field kind --------------------------------------------------
#
# Generous on purpose: they exist to stop absurd values (1e308, -1e308, dates in 1900 or
# 2099), not to second-guess a real site. The README, 'Data: validation, honest endings', lists
# them.

#: Far above any site the Fleet API serves (a Powerwall 3 gives 11.5 kW; twenty of them and a
#: large roof stay below 1 MW).
MAX_SITE_POWER_W = 10_000_000.0
#: Battery capacity / energy left / energy a charge session adds: 100 MWh.
MAX_STORED_WH = 100_000_000.0
#: Backup events and charge sessions: one year.
MAX_DURATION_S = 366 * 86_400.0
#: An energy bucket whose length cannot be seen (a reply with one bucket) is taken as a day.
UNKNOWN_BUCKET_SECONDS = 86_400
#: Points before this are implausible when the installation date is unknown (no Tesla energy
#: product is older).
EARLIEST_PLAUSIBLE = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Limit:
    """Plausible values of one field kind, ``low``..``high`` inclusive. ``per_hour``: the bounds
    are per hour of bucket length (energy per bucket = power x time)."""

    kind: str
    low: float
    high: float
    per_hour: bool = False

    def bounds(self, bucket_seconds: float = UNKNOWN_BUCKET_SECONDS) -> tuple[float, float]:
        scale = bucket_seconds / 3600.0 if self.per_hour else 1.0
        return self.low * scale, self.high * scale

    def check(self, name: str, unit: str, value: float,
              bucket_seconds: float = UNKNOWN_BUCKET_SECONDS) -> None:
        """Raise ``ImplausibleRecord`` naming the field and value when outside the bounds."""
        low, high = self.bounds(bucket_seconds)
        if not low <= value <= high:
            raise ImplausibleRecord(f"{name}={value!r:.40} is outside the plausible {self.kind} "
                                    f"range {low:g}..{high:g} {unit}".rstrip())


POWER = Limit("power", -MAX_SITE_POWER_W, MAX_SITE_POWER_W)
STORED_ENERGY = Limit("stored energy", 0.0, MAX_STORED_WH)
BUCKET_ENERGY = Limit("energy per bucket", 0.0, MAX_SITE_POWER_W, per_hour=True)
SESSION_ENERGY = Limit("energy per session", 0.0, MAX_STORED_WH)
PERCENT = Limit("percent", 0.0, 100.0)
DURATION = Limit("duration", 0.0, MAX_DURATION_S)
COUNT = Limit("count", 0, 10_000)
#: State and fault codes: any 32-bit integer (also keeps a 1e308 "integer" out of an ``i``
#: field, which InfluxDB would refuse).
CODE = Limit("code", -(2**31), 2**31 - 1)
#: Computed by collector.cost (declared like the API's fields; a tariff's own prices are
#: checked when it is read): prices per kWh or kW, amounts, shares.
PRICE = Limit("price", -1e4, 1e4)
AMOUNT = Limit("amount", -1e9, 1e9)
SHARE = Limit("share", 0.0, 1.0)


@dataclass(frozen=True)
class TimeBounds:
    """Plausible point times of one site, in epoch seconds: from the installation date minus a
    day to now plus a day. Built by the caller (the transform reads no clock)."""

    earliest: int
    latest: int

    @classmethod
    def around(cls, now: datetime, installed: date | None = None) -> TimeBounds:
        """``installed`` is the site's local installation date; its day before, as a UTC date,
        starts no later than that local day does in any zone."""
        start = (datetime.combine(installed - timedelta(days=1), time(0), UTC)
                 if installed else EARLIEST_PLAUSIBLE)
        return cls(math.floor(start.timestamp()),
                   math.floor((now + timedelta(days=1)).timestamp()))

    def check(self, seconds: int) -> None:
        if not self.earliest <= seconds <= self.latest:
            raise ImplausibleRecord(
                f"timestamp {_iso(seconds)} is outside the plausible range "
                f"{_iso(self.earliest)}..{_iso(self.latest)} (installation day - 1 .. now + 1)")


def _iso(seconds: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)).isoformat()


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    unit: str = ""
    source: tuple[str, ...] = ()
    limit: Limit | None = None

    @property
    def path(self) -> tuple[str, ...]:
        return self.source or (self.name,)


@dataclass(frozen=True)
class Schema:
    measurement: str
    tags: tuple[str, ...]
    fields: tuple[Field, ...]

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def _watts(*names: str) -> tuple[Field, ...]:
    return tuple(Field(n, Kind.FLOAT, "W", limit=POWER) for n in names)


def _watt_hours(*names: str, limit: Limit = STORED_ENERGY) -> tuple[Field, ...]:
    return tuple(Field(n, Kind.FLOAT, "Wh", limit=limit) for n in names)


LIVE_STATUS = Schema("live_status", ("site_id", "site_name"), (
    *_watts("solar_power", "battery_power", "load_power", "grid_power", "generator_power",
            "grid_services_power"),
    *_watt_hours("energy_left", "total_pack_energy"),
    Field("percentage_charged", Kind.FLOAT, "%", limit=PERCENT),
    Field("grid_status", Kind.STR),
    Field("island_status", Kind.STR),
    Field("storm_mode_active", Kind.BOOL),
    Field("backup_capable", Kind.BOOL),
    Field("grid_services_active", Kind.BOOL),
))

#: Derived live_status fields: name -> (source field, sign). Each is max(sign * source, 0).
LIVE_STATUS_DERIVED: dict[str, tuple[str, int]] = {
    "grid_import_power": ("grid_power", 1),
    "grid_export_power": ("grid_power", -1),
    "battery_discharge_power": ("battery_power", 1),
    "battery_charge_power": ("battery_power", -1),
}
LIVE_STATUS_DERIVED_FIELDS = _watts(*LIVE_STATUS_DERIVED)

WALL_CONNECTOR = Schema("wall_connector", ("site_id", "din"), (
    Field("wall_connector_power", Kind.FLOAT, "W", limit=POWER),
    Field("wall_connector_state", Kind.INT, limit=CODE),
    Field("wall_connector_fault_state", Kind.INT, limit=CODE),
))

SITE_INFO = Schema("site_info", ("site_id", "site_name", "time_zone"), (
    Field("backup_reserve_percent", Kind.FLOAT, "%", limit=PERCENT),
    Field("default_real_mode", Kind.STR),
    Field("storm_mode_enabled", Kind.BOOL, source=("user_settings", "storm_mode_enabled")),
    Field("off_grid_vehicle_charging_reserve_percent", Kind.FLOAT, "%", limit=PERCENT),
    Field("customer_preferred_export_rule", Kind.STR,
          source=("components", "customer_preferred_export_rule")),
    Field("disallow_charge_from_grid_with_solar_installed", Kind.BOOL,
          source=("components", "disallow_charge_from_grid_with_solar_installed")),
    Field("nameplate_power", Kind.FLOAT, "W", limit=POWER),
    Field("nameplate_energy", Kind.FLOAT, "Wh", limit=STORED_ENERGY),
    Field("battery_count", Kind.INT, limit=COUNT),
    Field("version", Kind.STR),
    # Every real site_info has it, solar-only sites included (which hold none of the settings
    # above): it keeps a point, and so the site's name and zone tags, for the dashboards.
    Field("installation_date", Kind.STR),
    # Derived by the daemon (collector.settings_watch), never in the API's reply: how many of
    # backup_reserve_percent / default_real_mode changed since the previous snapshot without a
    # control_event from `tesla-energy set`.
    Field("settings_changed_outside", Kind.INT, limit=COUNT,
          source=("__collector__", "settings_changed_outside")),
))

ENERGY_HISTORY = Schema("energy_history", ("site_id",), _watt_hours(
    "solar_energy_exported", "generator_energy_exported",
    "grid_energy_imported", "grid_services_energy_imported", "grid_services_energy_exported",
    "grid_energy_exported_from_solar", "grid_energy_exported_from_generator",
    "grid_energy_exported_from_battery",
    "battery_energy_exported", "battery_energy_imported_from_grid",
    "battery_energy_imported_from_solar", "battery_energy_imported_from_generator",
    "consumer_energy_imported_from_grid", "consumer_energy_imported_from_solar",
    "consumer_energy_imported_from_battery", "consumer_energy_imported_from_generator",
    "total_home_usage", "total_battery_charge", "total_battery_discharge",
    "total_solar_generation", "total_grid_energy_exported", limit=BUCKET_ENERGY,
))

#: energy_history row keys that are never fields ("time" is InfluxDB's own column: a field of
#: that name would make InfluxDB refuse the whole point).
ENERGY_HISTORY_NON_FIELDS = frozenset({"timestamp", "raw_timestamp", "time"})

BACKUP_EVENT = Schema("backup_event", ("site_id",), (
    Field("duration_seconds", Kind.FLOAT, "s", limit=DURATION),
    # written by collector.site_health from the energy buckets and live samples the outage spans
    *_watt_hours("home_usage_wh", "battery_energy_wh", "solar_energy_wh"),
    Field("soc_start", Kind.FLOAT, "%", limit=PERCENT),
    Field("soc_end", Kind.FLOAT, "%", limit=PERCENT),
))

#: One point per local day (at its start), written by collector.site_health.
BATTERY_HEALTH = Schema("battery_health", ("site_id",), (
    Field("round_trip_efficiency", Kind.FLOAT, "0-1", limit=Limit("efficiency", 0.0, 2.0)),
    Field("cycles", Kind.FLOAT, limit=Limit("cycles", 0.0, 100.0)),
    *_watt_hours("capacity_wh"),
    Field("capacity_percent", Kind.FLOAT, "%", limit=Limit("capacity percent", 0.0, 1000.0)),
))

CHARGE_SESSION = Schema("charge_session", ("site_id", "din"), (
    Field("energy_added_wh", Kind.FLOAT, "Wh", limit=SESSION_ENERGY),
    Field("duration_seconds", Kind.FLOAT, "s", source=("charge_duration",), limit=DURATION),
    Field("cost", Kind.FLOAT, "currency", limit=AMOUNT),  # written by collector.cost
    Field("solar_share", Kind.FLOAT, "0-1", limit=SHARE),  # written by collector.cost
))

CONTROL_EVENT = Schema("control_event", ("site_id", "setting"), (
    Field("value", Kind.STR),
    Field("previous", Kind.STR),
))

TARIFF_VERSION = Schema("tariff_version", ("site_id", "source"), (
    Field("sha256", Kind.STR),
    Field("name", Kind.STR),
    Field("utility", Kind.STR),
    Field("code", Kind.STR),
    Field("currency", Kind.STR),
    Field("content", Kind.STR),  # the tariff_content_v2 JSON (compact, sorted keys)
    Field("until", Kind.STR),  # declared ranges only: RFC 3339 UTC end (exclusive)
))


def _money(*names: str, limit: Limit = AMOUNT) -> tuple[Field, ...]:
    return tuple(Field(n, Kind.FLOAT, "currency", limit=limit) for n in names)


#: One point per energy_history bucket (same time): its prices and costs.
ENERGY_COST = Schema("energy_cost", ("site_id", "currency"), (
    *_money("buy_price", "sell_price", limit=PRICE),  # per kWh
    *_money("import_cost", "export_credit", "net_cost", "baseline_cost", "savings"),
    Field("tariff_sha256", Kind.STR),
))

#: Fixed and demand charges: ``charge=daily`` at each local day start, ``charge=demand`` (tag
#: ``period``) at each local month start. ``baseline_*``: the same charge without solar and
#: battery (demand from home usage instead of grid import).
ENERGY_COST_CHARGES = Schema("energy_cost_charges", ("site_id", "currency", "charge", "period"), (
    *_money("amount", "baseline_amount"),
    Field("rate", Kind.FLOAT, "currency/kW", limit=PRICE),
    *_watts("peak_power_w", "baseline_peak_power_w"),
    Field("system_price", Kind.FLOAT, "currency", limit=AMOUNT),
    Field("tariff_sha256", Kind.STR),
))

COLLECTOR = Schema("collector", ("job", "endpoint"), (
    Field("requests", Kind.INT),
    Field("errors", Kind.INT),
    Field("rate_limited", Kind.INT),
    Field("latency_ms", Kind.FLOAT, "ms"),
    Field("points_written", Kind.INT),
    Field("spool_points", Kind.INT),
    Field("billable", Kind.INT),  # requests answered below 500 in the window (billed)
    Field("billable_month", Kind.INT),  # billable requests this UTC month (this process)
    Field("api_cost_month_usd", Kind.FLOAT, "USD"),  # their cost before the credit
))

SCHEMAS: dict[str, Schema] = {s.measurement: s for s in (
    LIVE_STATUS, WALL_CONNECTOR, SITE_INFO, ENERGY_HISTORY, BACKUP_EVENT, CHARGE_SESSION,
    CONTROL_EVENT, TARIFF_VERSION, ENERGY_COST, ENERGY_COST_CHARGES, BATTERY_HEALTH,
    COLLECTOR)}


# --- value coercion: the API's JSON value -> the field's Python type, or None when absent ---


def _as_float(value: Any) -> float:
    """A JSON number as float; non-finite values (``1e999``, ``NaN``) are kept, so a field with
    a limit rejects them as implausible (the serializer never writes them)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError
    try:
        return float(value)
    except OverflowError:  # an integer beyond float range (10**400)
        return math.inf if value > 0 else -math.inf


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int):
        raise TypeError
    return value


def _as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError
    return value


def _as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError
    return value


_COERCE = {Kind.FLOAT: _as_float, Kind.INT: _as_int, Kind.BOOL: _as_bool, Kind.STR: _as_str}


def coerce(field: Field, value: Any) -> Any:
    """The value as the field's kind; ``None`` stays ``None``; a wrong type is malformed."""
    if value is None:
        return None
    try:
        return _COERCE[field.kind](value)
    except TypeError:
        raise MalformedRecord(
            f"{field.name}: expected {field.kind.value}, got {type(value).__name__} {value!r:.40}"
        ) from None


def lookup(record: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` in nested dicts, or None when any step is missing."""
    for key in path:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def check_plausible(field: Field, value: Any) -> None:
    """Raise ``ImplausibleRecord`` when a coerced value lies outside its field's limit."""
    if field.limit is not None and value is not None and not isinstance(value, bool | str):
        field.limit.check(field.name, field.unit, value)


def pick(fields: tuple[Field, ...], record: dict[str, Any]) -> dict[str, Any]:
    """Coerced values of ``fields`` found in ``record`` (absent ones left out); raises
    ``MalformedRecord`` for a wrong type, ``ImplausibleRecord`` for a value off its limit."""
    values = {}
    for field in fields:
        value = coerce(field, lookup(record, field.path))
        if value is not None:
            check_plausible(field, value)
            values[field.name] = value
    return values
