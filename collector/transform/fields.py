"""Declarative field tables: every measurement's tags and fields with name, unit and kind.

This is the one place that fixes the InfluxDB schema of ``DESIGN.md`` §2. A field's kind
decides its pandas dtype and its line-protocol type, so a field never changes type in InfluxDB
(InfluxDB rejects a float field written as an integer later). Power is float W, energy float
Wh, percentages float 0-100. ``source`` is the path of the value in the API's JSON when it
differs from the field name.

Pure data and value coercion: no I/O, no pandas frames built here.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    unit: str = ""
    source: tuple[str, ...] = ()

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
    return tuple(Field(n, Kind.FLOAT, "W") for n in names)


def _watt_hours(*names: str) -> tuple[Field, ...]:
    return tuple(Field(n, Kind.FLOAT, "Wh") for n in names)


LIVE_STATUS = Schema("live_status", ("site_id", "site_name"), (
    *_watts("solar_power", "battery_power", "load_power", "grid_power", "generator_power",
            "grid_services_power"),
    *_watt_hours("energy_left", "total_pack_energy"),
    Field("percentage_charged", Kind.FLOAT, "%"),
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
    Field("wall_connector_power", Kind.FLOAT, "W"),
    Field("wall_connector_state", Kind.INT),
    Field("wall_connector_fault_state", Kind.INT),
))

SITE_INFO = Schema("site_info", ("site_id", "site_name", "time_zone"), (
    Field("backup_reserve_percent", Kind.FLOAT, "%"),
    Field("default_real_mode", Kind.STR),
    Field("storm_mode_enabled", Kind.BOOL, source=("user_settings", "storm_mode_enabled")),
    Field("off_grid_vehicle_charging_reserve_percent", Kind.FLOAT, "%"),
    Field("customer_preferred_export_rule", Kind.STR,
          source=("components", "customer_preferred_export_rule")),
    Field("disallow_charge_from_grid_with_solar_installed", Kind.BOOL,
          source=("components", "disallow_charge_from_grid_with_solar_installed")),
    Field("nameplate_power", Kind.FLOAT, "W"),
    Field("nameplate_energy", Kind.FLOAT, "Wh"),
    Field("battery_count", Kind.INT),
    Field("version", Kind.STR),
    # Every real site_info has it, solar-only sites included (which hold none of the settings
    # above): it keeps a point, and so the site's name and zone tags, for the dashboards.
    Field("installation_date", Kind.STR),
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
    "total_solar_generation", "total_grid_energy_exported",
))

#: energy_history row keys that are never fields ("time" is InfluxDB's own column: a field of
#: that name would make InfluxDB refuse the whole point).
ENERGY_HISTORY_NON_FIELDS = frozenset({"timestamp", "raw_timestamp", "time"})

BACKUP_EVENT = Schema("backup_event", ("site_id",), (
    Field("duration_seconds", Kind.FLOAT, "s"),
))

CHARGE_SESSION = Schema("charge_session", ("site_id", "din"), (
    Field("energy_added_wh", Kind.FLOAT, "Wh"),
    Field("duration_seconds", Kind.FLOAT, "s", source=("charge_duration",)),
))

CONTROL_EVENT = Schema("control_event", ("site_id", "setting"), (
    Field("value", Kind.STR),
    Field("previous", Kind.STR),
))

COLLECTOR = Schema("collector", ("job", "endpoint"), (
    Field("requests", Kind.INT),
    Field("errors", Kind.INT),
    Field("rate_limited", Kind.INT),
    Field("latency_ms", Kind.FLOAT, "ms"),
    Field("points_written", Kind.INT),
    Field("spool_points", Kind.INT),
))

SCHEMAS: dict[str, Schema] = {s.measurement: s for s in (
    LIVE_STATUS, WALL_CONNECTOR, SITE_INFO, ENERGY_HISTORY, BACKUP_EVENT, CHARGE_SESSION,
    CONTROL_EVENT, COLLECTOR)}


# --- value coercion: the API's JSON value -> the field's Python type, or None when absent ---


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError
    number = float(value)
    return number if math.isfinite(number) else None


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


def pick(fields: tuple[Field, ...], record: dict[str, Any]) -> dict[str, Any]:
    """Coerced values of ``fields`` found in ``record`` (absent ones left out)."""
    values = {}
    for field in fields:
        value = coerce(field, lookup(record, field.path))
        if value is not None:
            values[field.name] = value
    return values
