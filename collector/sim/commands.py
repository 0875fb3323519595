"""The six site-settings commands: validate a POST body like the real service and turn it
into settings changes for ``SiteModel.change_settings``. No HTTP and no model state here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from collector.sim.spec import EXPORT_RULES, MODES
from collector.sim.tariff import TariffError, slot_table

COMMANDS = ("backup", "grid_import_export", "off_grid_vehicle_charging_reserve", "operation",
            "storm_mode", "time_of_use_settings")


class CommandRejected(ValueError):
    """The command body is invalid; the message is the API's ``error`` text."""


def _percent(body: dict, key: str) -> int:
    """A whole percent 0-100 (``30`` or ``30.0``), kept as an integer like real site_info."""
    value = body.get(key)
    if (isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100
            or value != int(value)):
        raise CommandRejected(f"{key} must be a whole number from 0 to 100")
    return int(value)


def _flag(body: dict, key: str) -> bool:
    value = body.get(key)
    if not isinstance(value, bool):
        raise CommandRejected(f"{key} must be true or false")
    return value


def _backup(body: dict) -> dict[str, Any]:
    return {"backup_reserve_percent": _percent(body, "backup_reserve_percent")}


def _grid_import_export(body: dict) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if "customer_preferred_export_rule" in body:
        rule = body["customer_preferred_export_rule"]
        if rule not in EXPORT_RULES:
            raise CommandRejected(
                f"customer_preferred_export_rule must be one of {', '.join(EXPORT_RULES)}")
        changes["customer_preferred_export_rule"] = rule
    key = "disallow_charge_from_grid_with_solar_installed"
    if key in body:
        changes[key] = _flag(body, key)
    if not changes:
        raise CommandRejected(f"send customer_preferred_export_rule and/or {key}")
    return changes


def _off_grid_reserve(body: dict) -> dict[str, Any]:
    key = "off_grid_vehicle_charging_reserve_percent"
    return {key: _percent(body, key)}


def _operation(body: dict) -> dict[str, Any]:
    mode = body.get("default_real_mode")
    if mode not in MODES:
        raise CommandRejected(f"default_real_mode must be one of {', '.join(MODES)}")
    return {"default_real_mode": mode}


def _storm_mode(body: dict) -> dict[str, Any]:
    return {"storm_mode_enabled": _flag(body, "enabled")}


def _time_of_use(body: dict) -> dict[str, Any]:
    settings = body.get("tou_settings")
    content = settings.get("tariff_content_v2") if isinstance(settings, dict) else None
    if content is None:
        raise CommandRejected("tou_settings.tariff_content_v2 is required")
    try:
        slot_table(content)
    except TariffError as exc:
        raise CommandRejected(f"invalid tariff: {exc}") from None
    return {"tariff": copy.deepcopy(content)}


_PARSERS: dict[str, Callable[[dict], dict[str, Any]]] = {
    "backup": _backup,
    "grid_import_export": _grid_import_export,
    "off_grid_vehicle_charging_reserve": _off_grid_reserve,
    "operation": _operation,
    "storm_mode": _storm_mode,
    "time_of_use_settings": _time_of_use,
}


def parse_command(name: str, body: Any, solar_only: bool = False) -> dict[str, Any]:
    """The settings changes a command body asks for; raises ``CommandRejected`` (every
    command is refused by a solar-only site: they all set up the Powerwall)."""
    if solar_only:
        raise CommandRejected(f"{name} is not supported: this energy site has no Powerwall")
    if not isinstance(body, dict):
        raise CommandRejected("the request body must be a JSON object")
    return _PARSERS[name](body)
