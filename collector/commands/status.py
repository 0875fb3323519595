"""``tesla-energy status``: live power flow and current settings, human readable."""

from __future__ import annotations

import argparse
from typing import Any

from collector.commands.common import add_site_argument, resolve_site, settings_from

_POWER_LINES = (
    ("Solar", "solar_power", ""),
    ("Home", "load_power", ""),
    ("Battery", "battery_power", "+ discharging / - charging"),
    ("Grid", "grid_power", "+ importing / - exporting"),
    ("Generator", "generator_power", ""),
)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("status", help="show live power flow and current settings",
                            description="Show one site's live_status and main site_info settings.")
    add_site_argument(parser)
    parser.set_defaults(handler=handle)


def _kw(value: Any) -> str:
    return f"{float(value) / 1000:8.2f} kW" if isinstance(value, int | float) else "       - "


def format_status(live: dict[str, Any], info: dict[str, Any]) -> list[str]:
    """The human-readable lines for one site (pure, tested directly). A site without a
    Powerwall (``components.battery`` false) shows no battery lines and no battery settings."""
    title = f"{info.get('site_name') or 'site'} ({info.get('id', '')})"
    lines = [f"{title}  at {live.get('timestamp', '?')}"]
    components = info.get("components") or {}
    battery = components.get("battery") is not False
    for label, key, note in _POWER_LINES:
        if key in live and (battery or key != "battery_power"):
            lines.append(f"  {label:10} {_kw(live.get(key))}  {note}".rstrip())
    pct = live.get("percentage_charged")
    if isinstance(pct, int | float) and battery:
        lines.append(f"  {'Charge':10} {pct:8.1f} %")
    for wc in live.get("wall_connectors") or []:
        lines.append(f"  {'WC ' + str(wc.get('din', '?')):10} {_kw(wc.get('wall_connector_power'))}"
                     f"  state {wc.get('wall_connector_state', '-')}")
    lines.append(f"  Grid status {live.get('grid_status', '-')}, island "
                 f"{live.get('island_status', '-')}, storm mode active "
                 f"{live.get('storm_mode_active', '-')}")
    if not battery:
        lines.append("  Settings: none (solar only: no Powerwall)")
        return lines
    settings = info.get("user_settings") or {}
    lines.append(
        f"  Settings: mode {info.get('default_real_mode', '-')}, backup reserve "
        f"{info.get('backup_reserve_percent', '-')} %, storm mode "
        f"{'on' if settings.get('storm_mode_enabled') else 'off'}, export "
        f"{components.get('customer_preferred_export_rule', '-')}, grid charging "
        f"{'off' if components.get('disallow_charge_from_grid_with_solar_installed') else 'on'}"
    )
    return lines


def handle(args: argparse.Namespace) -> int:
    from collector.source import build_client

    settings = settings_from(args)
    with build_client(settings) as client:
        site_id = resolve_site(client, settings, args.site)
        live = client.live_status(site_id)
        info = client.site_info(site_id)
    info.setdefault("id", site_id)
    print("\n".join(format_status(live, info)))
    return 0
