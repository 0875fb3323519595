"""The Fleet API's JSON shapes built from the model: live_status, site_info, products,
calendar_history (energy and backup) and telemetry_history (charge).

These functions are the ground truth tests compare against: the server serves exactly what
they return. Shapes and quirks follow real captured replies (see ``tests/fixtures/real``):
every base energy field with zeros and only zero ``total_*`` fields left out, month/year rows
stamped 01:00 local, local offsets on timestamps, integer powers, the tariff at the top level
of site_info, solar-only sites without battery fields, optional fields absent on some sites.
Pure functions of (site, time): no HTTP, no sockets.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from collector.sim.model import DayResult, SiteModel
from collector.sim.physics import Outage
from collector.sim.spec import SiteSpec
from collector.sim.tariff import v1_shape
from collector.sim.timegrid import (
    STEP_SECONDS,
    day_bounds,
    iso_bucket_stamps,
    iso_local,
    local_date,
    month_days,
)

# calendar_history energy field -> the flows it sums (model.FLOWS names), in the order real
# replies list them. The site has no generator and no grid services: those fields are 0.
ENERGY_FIELDS: dict[str, tuple[str, ...]] = {
    "solar_energy_exported": ("s_home", "s_batt", "s_grid"),
    "generator_energy_exported": (),
    "grid_energy_imported": ("g_home", "g_batt"),
    "grid_services_energy_imported": (),
    "grid_services_energy_exported": (),
    "grid_energy_exported_from_solar": ("s_grid",),
    "grid_energy_exported_from_generator": (),
    "grid_energy_exported_from_battery": ("b_grid",),
    "battery_energy_exported": ("b_home", "b_grid"),
    "battery_energy_imported_from_grid": ("g_batt",),
    "battery_energy_imported_from_solar": ("s_batt",),
    "battery_energy_imported_from_generator": (),
    "consumer_energy_imported_from_grid": ("g_home",),
    "consumer_energy_imported_from_solar": ("s_home",),
    "consumer_energy_imported_from_battery": ("b_home",),
    "consumer_energy_imported_from_generator": (),
    "total_home_usage": ("s_home", "b_home", "g_home"),
    "total_battery_charge": ("s_batt", "g_batt"),
    "total_battery_discharge": ("b_home", "b_grid"),
    "total_solar_generation": ("s_home", "s_batt", "s_grid"),
    "total_grid_energy_exported": ("s_grid", "b_grid"),
}
#: Real replies carry every base field, zeros included, and leave out the zero ``total_*``.
OMITTED_WHEN_ZERO = frozenset(n for n in ENERGY_FIELDS if n.startswith("total_"))
FIRMWARE = "24.44.1 1d4a6e5b"
WC_CHARGING, WC_UNPLUGGED = 1, 2
WC_FAULT_READY, WC_FAULT_CHARGING = 2, 8


def serial_number(spec: SiteSpec) -> str:
    return spec.gateway_din


def energy_site_uid(spec: SiteSpec) -> str:
    return f"STE{spec.installation_date:%Y%m%d}-{spec.site_id % 100000:05d}"


# --- calendar_history kind=energy --------------------------------------------------------


def _field_columns(result: DayResult, upto: int) -> dict[str, np.ndarray]:
    flows = {k: v[:upto] for k, v in result.flows.items()}
    zeros = np.zeros(upto, dtype=np.int64)
    return {name: sum((flows[p] for p in parts), start=zeros)
            for name, parts in ENERGY_FIELDS.items()}


def _kept(name: str, value: int) -> bool:
    return bool(value) or name not in OMITTED_WHEN_ZERO


def _row(timestamp: str, values: dict[str, int]) -> dict[str, Any]:
    row: dict[str, Any] = {"timestamp": timestamp}
    row.update((k, v) for k, v in values.items() if _kept(k, v))
    return row


def completed_buckets(result: DayResult, now: float) -> int:
    """How many of the day's buckets have ended by ``now``."""
    ended = (now - result.starts[0]) // STEP_SECONDS
    return int(min(max(ended, 0), len(result)))


def _day_columns(model: SiteModel, day: date,
                 now: float) -> tuple[list[str], dict[str, list[int]]] | None:
    """Bucket timestamps and per-field Wh columns of the local ``day`` up to ``now``; None
    before installation."""
    result = model.day(day) if day_bounds(day, model.zone)[0] < now else None
    if result is None:
        return None if day < model.spec.installation_date else ([], {})
    upto = completed_buckets(result, now)
    columns = {k: v.tolist() for k, v in _field_columns(result, upto).items()}
    stamps = iso_bucket_stamps(day, result.starts[:upto], model.zone) if upto else []
    return stamps, columns


def energy_rows(model: SiteModel, day: date, now: float) -> list[dict[str, Any]] | None:
    """The 5-minute rows of ``calendar_history?kind=energy&period=day`` for the local ``day``:
    buckets that ended by ``now``, every base field (zeros included), zero ``total_*`` fields
    omitted; None before installation."""
    found = _day_columns(model, day, now)
    if found is None:
        return None
    stamps, columns = found
    return [_row(stamp, dict(zip(columns, values, strict=True)))
            for stamp, *values in zip(stamps, *columns.values(), strict=True)]


def energy_rows_json(model: SiteModel, day: date, now: float) -> str:
    """``json.dumps(energy_rows(...))`` (compact), built as text: twice as fast, for serving
    backfills. Tests hold the two equal."""
    found = _day_columns(model, day, now)
    if found is None:
        return "null"
    stamps, columns = found
    keys = [(f',"{name}":', name in OMITTED_WHEN_ZERO) for name in columns]
    rows = ('{"timestamp":"' + stamp + '"'
            + "".join([k + str(v) for (k, sparse), v in zip(keys, values, strict=True)
                       if v or not sparse]) + "}"
            for stamp, *values in zip(stamps, *columns.values(), strict=True))
    return "[" + ",".join(rows) + "]"


def day_totals(model: SiteModel, day: date, now: float) -> dict[str, int] | None:
    """The energy fields summed over the local ``day`` (up to ``now``)."""
    if day < model.spec.installation_date or day_bounds(day, model.zone)[0] >= now:
        return None
    result = model.day(day)
    assert result is not None
    upto = completed_buckets(result, now)
    return {k: int(v.sum()) for k, v in _field_columns(result, upto).items()}


def _sum_rows(rows: list[dict[str, int]]) -> dict[str, int]:
    return {name: sum(r[name] for r in rows) for name in ENERGY_FIELDS}


def one_am(day: date, model: SiteModel) -> str:
    """How real month/year/lifetime rows are stamped: 01:00 local of the bucket's first day."""
    local = datetime(day.year, day.month, day.day, 1, tzinfo=model.zone)
    return iso_local(local.timestamp(), model.zone)


def daily_rows(model: SiteModel, days: list[date], now: float) -> list[dict[str, Any]]:
    """One row per local day (period=month), stamped at 01:00 local."""
    rows = []
    for day in days:
        totals = day_totals(model, day, now)
        if totals is not None:
            rows.append(_row(one_am(day, model), totals))
    return rows


def monthly_rows(model: SiteModel, year: int, now: float) -> list[dict[str, Any]]:
    """One row per local month of ``year`` (period=year), stamped at 01:00 local of its 1st."""
    rows = []
    for month in range(1, 13):
        days = month_days(date(year, month, 1))
        totals = [t for d in days if (t := day_totals(model, d, now)) is not None]
        if totals:
            rows.append(_row(one_am(days[0], model), _sum_rows(totals)))
    return rows


def energy_history(model: SiteModel, period: str, end: datetime, now: float) -> dict[str, Any]:
    """The whole ``response`` of calendar_history kind=energy for the local day/month/year
    that contains ``end`` (lifetime: one row per year since installation)."""
    day = local_date(end.timestamp(), model.zone)
    series: list[dict[str, Any]] | None
    if period == "day":
        series = energy_rows(model, day, now)
    elif period == "month":
        series = daily_rows(model, month_days(day), now) or _none_before(model, day)
    elif period == "year":
        series = monthly_rows(model, day.year, now) or _none_before(model, day)
    else:
        first = model.spec.installation_date.year
        series = [r for y in range(first, day.year + 1) for r in _year_row(model, y, now)]
    return {**history_header(model, period, now), "time_series": series}


def history_header(model: SiteModel, period: str, now: float) -> dict[str, Any]:
    """The calendar_history envelope fields other than ``time_series``: the zone's name, or
    for a site whose replies carry only an offset (``history_zone="offset"``) its standard
    ``time_zone_offset`` in minutes, as Tesla reports it even in summer."""
    header: dict[str, Any] = {"serial_number": serial_number(model.spec), "period": period}
    if model.spec.history_zone == "offset":
        header["time_zone_offset"] = _standard_offset_minutes(model, now)
    else:
        header["installation_time_zone"] = model.spec.time_zone
    return header


def _none_before(model: SiteModel, day: date) -> list | None:
    return None if day < model.spec.installation_date else []


def _year_row(model: SiteModel, year: int, now: float) -> list[dict[str, Any]]:
    months = monthly_rows(model, year, now)
    if not months:
        return []
    totals = {k: sum(r.get(k, 0) for r in months) for k in ENERGY_FIELDS}
    return [_row(one_am(date(year, 1, 1), model), totals)]


# --- backup events and charge sessions -----------------------------------------------------


def _days_between(model: SiteModel, start: float, end: float) -> list[date]:
    first = max(local_date(start, model.zone) - timedelta(days=1), model.spec.installation_date)
    last = local_date(end, model.zone)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def backup_events(model: SiteModel, start: float, end: float, now: float) -> list[Outage]:
    """Outages that started in ``[start, end]`` and were over by ``now``."""
    events = [o for d in _days_between(model, start, end) for o in model.outages(d)]
    return [o for o in events if start <= o.start <= end and o.end <= now]


def backup_history(model: SiteModel, start: float, end: float, now: float,
                   page_size: int = 0) -> dict[str, Any]:
    """The backup events that started in ``[start, end]``. With ``page_size``, a longer list
    is paged like Tesla's: the newest events (at least ``page_size``, all of one second
    together) and ``next_end_date``, the whole second before them, for the next request."""
    outages = backup_events(model, start, end, now)
    body: dict[str, Any] = {}
    if page_size and len(outages) > page_size:
        cutoff = math.floor(outages[-page_size].start) - 1
        outages = [o for o in outages if o.start > cutoff]
        body["next_end_date"] = iso_local(cutoff, model.zone)
    events = [{"timestamp": iso_local(o.start, model.zone), "duration": o.duration_ms}
              for o in outages]
    return {"events": events, "total_events": len(events), **body}


def charge_sessions(model: SiteModel, start: float, end: float, now: float) -> list[dict]:
    """Wall Connector sessions that started in ``[start, end]`` and ended by ``now``, with the
    energy the model actually delivered (Wh)."""
    sessions = []
    for day in _days_between(model, start, end):
        for plan in model.charge_plans(day):
            if start <= plan.start <= end and plan.end <= now:
                sessions.append({
                    "charge_start_time": {"seconds": plan.start},
                    "charge_duration": {"seconds": plan.duration},
                    "energy_added_wh": _delivered_wh(model, plan.start, plan.end),
                    "din": model.spec.wall_connector_din,
                })
    return sessions


def _delivered_wh(model: SiteModel, start: int, end: int) -> int:
    total = 0
    for day in {local_date(start, model.zone), local_date(end - 1, model.zone)}:
        result = model.day(day)
        if result is not None:
            mask = (result.starts + STEP_SECONDS > start) & (result.starts < end)
            total += int(result.wc[mask].sum())
    return total


# --- live_status, site_info, products ---------------------------------------------------


def live_status(model: SiteModel, now: float) -> dict[str, Any]:
    """Powers as integers (as real replies send them), ``percentage_charged`` a long float;
    a solar-only site answers like the real ones: ``grid_status`` "Unknown", ``island_status``
    "island_status_unknown", ``energy_left`` 0, ``total_pack_energy`` 1, no ``backup_capable``
    and ``wall_connectors`` null."""
    spec, sample = model.spec, model.live(now)
    if spec.solar_only:
        return _solar_only_live(model, sample, now)
    solar, battery, grid, load = sample.whole_watts()
    body: dict[str, Any] = {
        "solar_power": solar,
        "percentage_charged": sample.percentage_charged,
        "backup_capable": True,
        "battery_power": battery,
        "load_power": load,
        "grid_status": "Inactive" if sample.off_grid else "Active",
        "grid_services_active": False,
        "grid_power": grid,
        "grid_services_power": 0,
        "generator_power": 0,
        "island_status": "off_grid_unintentional" if sample.off_grid else "on_grid",
        "storm_mode_active": sample.storm_active,
        "timestamp": iso_local(now, model.zone),
        "wall_connectors": None if spec.null_wall_connectors else _wall_connectors(model, sample),
    }
    if spec.report_energy_left:
        body["energy_left"] = round(sample.energy_left_wh, 1)
        body["total_pack_energy"] = spec.capacity_wh
    return body


def _solar_only_live(model: SiteModel, sample: Any, now: float) -> dict[str, Any]:
    solar, _, grid, load = sample.whole_watts()
    return {
        "solar_power": solar,
        "energy_left": 0,
        "total_pack_energy": 1,
        "percentage_charged": 0,
        "battery_power": 0,
        "load_power": load,
        "grid_status": "Unknown",
        "grid_services_active": False,
        "grid_power": grid,
        "grid_services_power": 0,
        "generator_power": 0,
        "island_status": "island_status_unknown",
        "storm_mode_active": False,
        "timestamp": iso_local(now, model.zone),
        "wall_connectors": None,
    }


def _wall_connectors(model: SiteModel, sample: Any) -> list[dict[str, Any]]:
    din = model.spec.wall_connector_din
    if din is None:
        return []
    charging = sample.wall_connector_w > 0
    return [{
        "din": din,
        "wall_connector_state": WC_CHARGING if charging else WC_UNPLUGGED,
        "wall_connector_fault_state": WC_FAULT_CHARGING if charging else WC_FAULT_READY,
        "wall_connector_power": int(sample.wall_connector_w),
    }]


def _standard_offset_minutes(model: SiteModel, now: float) -> int:
    local = datetime.fromtimestamp(now, model.zone)
    offset = (local.utcoffset() or timedelta()) - (local.dst() or timedelta())
    return int(offset.total_seconds() // 60)


def _zone_fields(model: SiteModel, now: float) -> dict[str, Any]:
    spec = model.spec
    return {"installation_time_zone": spec.time_zone if spec.report_installation_zone else "",
            "time_zone_offset": _standard_offset_minutes(model, now)}


def site_info(model: SiteModel, now: float) -> dict[str, Any]:
    """The site_info of a Powerwall site: the tariff at the top level (``tariff_content_v2``,
    or for a v1-tariff site ``tariff_content`` and ``tariff_id``), ``tou_settings`` with only
    the strategy and schedule, integer percentages."""
    spec, st = model.spec, model.settings
    if spec.solar_only:
        return _solar_only_site_info(model, now)
    return {
        "id": energy_site_uid(spec),
        "site_name": spec.name,
        "backup_reserve_percent": st.backup_reserve_percent,
        "default_real_mode": st.default_real_mode,
        "installation_date": iso_local(model.installed_at, model.zone),
        **_zone_fields(model, now),
        "version": FIRMWARE,
        "battery_count": spec.powerwalls,
        "nameplate_power": spec.max_power_w,
        "nameplate_energy": spec.capacity_wh,
        "off_grid_vehicle_charging_reserve_percent": st.off_grid_vehicle_charging_reserve_percent,
        "vpp_backup_reserve_percent": 0,
        "max_site_meter_power_ac": 1_000_000_000,
        "min_site_meter_power_ac": -1_000_000_000,
        "user_settings": {"storm_mode_enabled": st.storm_mode_enabled,
                          "sync_grid_alert_enabled": True, "breaker_alert_enabled": False},
        "tou_settings": {"optimization_strategy": "economics", "schedule": []},
        **_tariff_fields(spec, st.tariff),
        "components": _components(model),
    }


def _tariff_fields(spec: SiteSpec, tariff: dict[str, Any]) -> dict[str, Any]:
    if spec.tariff_format == "v1":
        return {"tariff_id": str(tariff.get("code") or ""), "tariff_content": v1_shape(tariff)}
    return {"tariff_content_v2": tariff}


def _solar_only_site_info(model: SiteModel, now: float) -> dict[str, Any]:
    """Solar panels without a Powerwall: no battery, backup, mode or tariff fields."""
    spec = model.spec
    return {
        "id": energy_site_uid(spec),
        "site_name": spec.name,
        "site_number": str(spec.site_id),
        "installation_date": iso_local(model.installed_at, model.zone),
        "user_settings": {"storm_mode_enabled": None, "powerwall_onboarding_settings_set": None,
                          "sync_grid_alert_enabled": False, "breaker_alert_enabled": False},
        "components": {
            "solar": True, "solar_type": "pv_panel", "battery": False, "grid": True,
            "backup": False, "gateway": "gateway_type_none", "load_meter": True,
            "tou_capable": False, "storm_mode_capable": False,
            "off_grid_vehicle_charging_reserve_supported": False, "configurable": False,
            "grid_services_enabled": False,
        },
        **_zone_fields(model, now),
    }


def _components(model: SiteModel) -> dict[str, Any]:
    spec, st = model.spec, model.settings
    components: dict[str, Any] = {
        "solar": True, "solar_type": "pv_panel", "battery": True, "grid": True, "backup": True,
        "gateway": "teg", "load_meter": True, "tou_capable": True, "storm_mode_capable": True,
        "off_grid_vehicle_charging_reserve_supported": True, "grid_services_enabled": False,
        "battery_type": "ac_powerwall", "configurable": True, "net_meter_mode": "battery_ok",
        "customer_preferred_export_rule": st.customer_preferred_export_rule,
        "gateways": [{"device_id": f"gw-{spec.site_id}", "din": spec.gateway_din,
                      "part_name": "Tesla Backup Gateway 2", "part_type": 2,
                      "firmware_version": FIRMWARE, "is_active": True}],
        "batteries": [{"device_id": f"pw-{spec.site_id}-{i}",
                       "din": f"2012170-25-E--TG1{spec.site_id % 10**8:08d}{i}",
                       "part_name": "Powerwall 2", "part_type": 2, "nameplate_energy": 13500,
                       "nameplate_max_charge_power": 5000,
                       "nameplate_max_discharge_power": 5000}
                      for i in range(spec.powerwalls)],
        "wall_connectors": [] if spec.wall_connector_din is None else [
            {"device_id": f"wc-{spec.site_id}", "din": spec.wall_connector_din,
             "part_name": "Gen 3 Wall Connector", "is_active": True}],
    }
    if st.disallow_charge_from_grid_with_solar_installed:
        components["disallow_charge_from_grid_with_solar_installed"] = True
    if st.customer_preferred_export_rule == "never":
        components["non_export_configured"] = True
    return components


def product_entry(model: SiteModel, now: float) -> dict[str, Any]:
    spec, sample = model.spec, model.live(now)
    if spec.solar_only:
        return {
            "energy_site_id": spec.site_id, "resource_type": "solar", "site_name": spec.name,
            "id": energy_site_uid(spec), "asset_site_id": f"a{spec.site_id:x}",
            "solar_power": sample.whole_watts()[0], "solar_type": "pv_panel",
            "storm_mode_enabled": None, "powerwall_onboarding_settings_set": None,
            "sync_grid_alert_enabled": False, "breaker_alert_enabled": False,
            "components": {"battery": False, "solar": True, "solar_type": "pv_panel",
                           "grid": True, "load_meter": True},
        }
    return {
        "energy_site_id": spec.site_id,
        "resource_type": "battery",
        "site_name": spec.name,
        "id": energy_site_uid(spec),
        "gateway_id": spec.gateway_din,
        "asset_site_id": f"a{spec.site_id:x}",
        "warp_site_number": f"STE{spec.site_id % 10**8:08d}",
        "energy_left": round(sample.energy_left_wh, 1),
        "total_pack_energy": spec.capacity_wh,
        "percentage_charged": sample.percentage_charged,
        "battery_type": "ac_powerwall",
        "backup_capable": True,
        "battery_power": sample.whole_watts()[1],
        "storm_mode_enabled": model.settings.storm_mode_enabled,
        "components": {"battery": True, "solar": True, "grid": True,
                       "wall_connectors": [] if spec.wall_connector_din is None else [
                           {"din": spec.wall_connector_din, "is_active": True}]},
    }


VEHICLE_ENTRY: dict[str, Any] = {
    "id": 1492931337154343, "vehicle_id": 1349012345, "vin": "5YJ3E7EB0KF000001",
    "color": None, "access_type": "OWNER", "display_name": "Sim Model 3", "state": "asleep",
    "in_service": False, "id_s": "1492931337154343", "calendar_enabled": True,
    "api_version": 71, "backseat_token": None, "backseat_token_updated_at": None,
}
