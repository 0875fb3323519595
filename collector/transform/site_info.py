"""site_info response -> ``site_info`` frame (a settings snapshot at collection time).

``storm_mode_enabled`` comes from ``user_settings``; the export rule and the grid-charging
flag from ``components``. Tesla omits ``disallow_charge_from_grid_with_solar_installed`` when it
is false, so it is written as False whenever a ``components`` block exists without it. An
export rule of "never" may show only as ``components.non_export_configured: true``. Pure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from collector.log import get_logger
from collector.transform.fields import SITE_INFO, MalformedRecord, pick
from collector.transform.frame import Frame, Row, build_frame, epoch_seconds, unwrap

log = get_logger(__name__)

_GRID_CHARGING = "disallow_charge_from_grid_with_solar_installed"
_EXPORT_RULE = "customer_preferred_export_rule"


def site_info_frame(response: Any, site_id: int | str, site_name: str | None,
                    collected_at: datetime, time_zone: str = "") -> Frame:
    """One point at ``collected_at`` (floored to the second), tagged site_id, site_name (the
    response's ``site_name``; ``site_name`` is the fallback when it has none) and time_zone:
    the IANA zone the collector resolved for the site (the dashboards cut days at its
    midnight), left out when the zone is unknown."""
    body = unwrap(response)
    site = str(site_id)
    try:
        if not isinstance(body, dict):
            raise MalformedRecord("response is not an object")
        values = pick(SITE_INFO.fields, body)
    except MalformedRecord as exc:
        log.warning("malformed_site_info_skipped", site_id=site, reason=str(exc))
        return build_frame(SITE_INFO, [])
    values.update(_component_defaults(body.get("components"), values))
    name = body.get("site_name")
    name = name if isinstance(name, str) and name else site_name
    tags = {"site_id": site, "site_name": name or None, "time_zone": time_zone or None}
    return build_frame(SITE_INFO, [Row(epoch_seconds(collected_at), tags, values)])


def _component_defaults(components: Any, values: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(components, dict):
        return {}
    defaults: dict[str, Any] = {}
    if _GRID_CHARGING not in values:
        defaults[_GRID_CHARGING] = False
    if _EXPORT_RULE not in values and components.get("non_export_configured") is True:
        defaults[_EXPORT_RULE] = "never"
    return defaults
