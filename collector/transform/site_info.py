"""site_info response -> ``site_info`` frame (a settings snapshot at collection time).

``storm_mode_enabled`` comes from ``user_settings``; the export rule and the grid-charging
flag from ``components``. A field the payload lacks is not written: Tesla leaves
``disallow_charge_from_grid_with_solar_installed`` out (when false, and on solar-only sites
altogether), so that point simply has no such field. The one derived value: an export rule of
"never" may show only as ``components.non_export_configured: true``, which is written as
``customer_preferred_export_rule="never"``. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from collector.log import get_logger
from collector.transform.fields import SITE_INFO, MalformedRecord, pick
from collector.transform.frame import Frame, Row, build_frame, epoch_seconds, unwrap
from collector.zones import iana_zone

log = get_logger(__name__)

_EXPORT_RULE = "customer_preferred_export_rule"


def site_info_frame(response: Any, site_id: int | str, site_name: str | None,
                    collected_at: datetime, time_zone: str = "",
                    derived: Callable[[dict[str, Any]], dict[str, Any]] | None = None
                    ) -> Frame:
    """One point at ``collected_at`` (floored to the second), tagged site_id, site_name (the
    response's ``site_name``; ``site_name`` is the fallback when it has none) and time_zone:
    the IANA zone the collector resolved for the site (the dashboards cut days at its
    midnight), left out when the zone is unknown or is not an IANA name (a half-hour fixed
    offset such as ``UTC+05:30``, which InfluxQL's ``tz()`` cannot use; whole-hour fixed
    offsets are IANA's ``Etc/GMT+7`` names and are kept). ``derived``: given the picked
    values, the daemon's extra fields (``settings_changed_outside``; None values left out)."""
    body = unwrap(response)
    site = str(site_id)
    try:
        if not isinstance(body, dict):
            raise MalformedRecord("response is not an object")
        values = pick(SITE_INFO.fields, body)
    except MalformedRecord as exc:
        log.warning("malformed_site_info_skipped", site_id=site, reason=str(exc))
        return build_frame(SITE_INFO, []).with_skipped(1, str(exc))
    values.update(_derived_export_rule(body.get("components"), values))
    if derived is not None:  # the daemon's fields computed from these values
        values.update({k: v for k, v in derived(values).items() if v is not None})
    name = body.get("site_name")
    name = name if isinstance(name, str) and name else site_name
    tags = {"site_id": site, "site_name": name or None,
            "time_zone": iana_zone(time_zone) or None}
    return build_frame(SITE_INFO, [Row(epoch_seconds(collected_at), tags, values)])


def _derived_export_rule(components: Any, values: dict[str, Any]) -> dict[str, Any]:
    if (isinstance(components, dict) and _EXPORT_RULE not in values
            and components.get("non_export_configured") is True):
        return {_EXPORT_RULE: "never"}
    return {}
