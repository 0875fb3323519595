"""What the backfill must know about a site before planning: its time zone and install date.

The zone is, in order of trust, the history response's ``installation_time_zone``, then
``site_info``'s, then the configured ``tesla.time_zone`` (``TESLA_TIME_ZONE``); an empty string
means unknown. Because the history response is the most trusted source, a real run sends one
*probe* request (today's energy history) per site before planning; a dry run does not, so it
plans with the next best zone. This module reads the API only through ``FleetClient`` and
never writes anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collector.backfill.windows import day_end, day_start
from collector.errors import ConfigError, InvalidResponse, TransientError
from collector.log import get_logger

log = get_logger(__name__)

Clock = Callable[[], datetime]
T = TypeVar("T")
ATTEMPTS = 3


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SiteContext:
    """A site ready for planning: ``zone`` is always a valid IANA zone."""

    site_id: int
    zone_name: str
    zone_source: str
    installed: date | None
    site_name: str = ""
    info: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.zone_name)

    def today(self, clock: Clock = utc_now) -> date:
        return clock().astimezone(self.zone).date()


def with_retries(call: Callable[[], T], attempts: int = ATTEMPTS) -> T:
    """``call()``, again after an unusable reply or a transient failure the client gave up on."""
    for attempt in range(attempts):
        try:
            return call()
        except (InvalidResponse, TransientError):
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def clean_zone(value: Any) -> str:
    """A usable IANA zone name or ``""`` (empty, missing and unknown names all mean unknown)."""
    if not isinstance(value, str) or not value.strip():
        return ""
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("ignoring an unknown time zone name", zone=value)
        return ""
    return value.strip()


def choose_zone(*candidates: tuple[str, Any]) -> tuple[str, str]:
    """The first usable ``(zone, source)`` among ``(source, raw zone)`` pairs, or ``("", "")``."""
    for source, raw in candidates:
        zone = clean_zone(raw)
        if zone:
            return zone, source
    return "", ""


def installation_day(info: dict[str, Any], zone: ZoneInfo) -> date | None:
    """``site_info.installation_date`` as a local date in ``zone`` (None when absent/bad)."""
    raw = info.get("installation_date")
    if not isinstance(raw, str) or not raw:
        return None
    try:
        stamp = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        log.warning("ignoring an unreadable installation_date", value=raw)
        return None
    if stamp.tzinfo is None:
        return stamp.date()
    return stamp.astimezone(zone).date()


def probe_zone(client: Any, site_id: int, guess: str, clock: Clock = utc_now) -> str:
    """The zone today's energy history reports for the site ("" when it reports none)."""
    zone = ZoneInfo(guess or "UTC")
    today = clock().astimezone(zone).date()
    reply = with_retries(lambda: client.calendar_history(
        site_id, "energy", day_start(today, zone), day_end(today, zone), "day", guess or None))
    return clean_zone(reply.get("installation_time_zone"))


def resolve_site(
    client: Any,
    site_id: int,
    config_zone: str,
    *,
    probe: bool = True,
    clock: Clock = utc_now,
) -> SiteContext:
    """Read ``site_info`` (and probe the history zone when ``probe``) into a ``SiteContext``.

    Raises ``ConfigError`` naming ``TESLA_TIME_ZONE`` when no source knows the zone.
    """
    info = with_retries(lambda: client.site_info(site_id))
    guess, source = choose_zone(("site_info", info.get("installation_time_zone")),
                                ("config", config_zone))
    history_zone = probe_zone(client, site_id, guess, clock) if probe else ""
    zone, source = choose_zone(("history", history_zone), (source, guess))
    if not zone:
        raise ConfigError(
            f"site {site_id}: the time zone is unknown (neither the history reply nor site_info "
            "name one); set TESLA_TIME_ZONE (tesla.time_zone) to the site's IANA zone, e.g. "
            "America/Los_Angeles"
        )
    if guess and zone != guess:
        log.warning("history reports a different time zone than site_info/config; using it",
                    site_id=site_id, history_zone=zone, other_zone=guess)
    return SiteContext(
        site_id=site_id,
        zone_name=zone,
        zone_source=source,
        installed=installation_day(info, ZoneInfo(zone)),
        site_name=str(info.get("site_name") or ""),
        info=info,
    )
