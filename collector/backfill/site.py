"""What every command must know about a site before planning: its time zone and install date.

``resolve_site`` is THE zone chain, used by ``backfill`` (and its ``--dry-run``), the daemon
(``run``, its history job and gap fill) and everything else that needs a site's local days.
The zone is the first of:

1. the configuration (``tesla.time_zone`` / ``TESLA_TIME_ZONE``): the user's override;
2. ``site_info``'s ``installation_time_zone`` (often ``""`` in real replies: unknown);
3. the ``installation_time_zone`` of a history reply;
4. that reply's UTC offset, as a *fixed* offset (``collector.zones``): the offset of its
   buckets' timestamps (where the site's days really start), else its ``time_zone_offset``
   (minutes east of UTC). One warning names ``TESLA_TIME_ZONE``, because a fixed offset
   cannot follow daylight saving time.

Steps 3 and 4 cost one *probe* request (today's energy history; yesterday's too when today's
says nothing), sent only when neither the configuration nor ``site_info`` names a zone, by a
real run and a dry run alike. When a source names a zone that disagrees with the chosen one,
one warning says so (``ReplyZoneCheck`` does that for later history replies). This
module reads the API only through ``FleetClient`` and never writes anything.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, TypeVar

from collector.errors import ConfigError, InvalidResponse, TransientError
from collector.log import get_logger
from collector.zones import fixed_offset_minutes, fixed_zone_name, iana_zone, offset_text, zone_of

log = get_logger(__name__)

Clock = Callable[[], datetime]
T = TypeVar("T")
ATTEMPTS = 3
PROBE_DAYS_BACK = (0, 1)  # today, then yesterday when today's reply says nothing


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SiteContext:
    """A site ready for planning. ``zone_name`` is an IANA name or a fixed-offset name
    (``collector.zones``); ``zone_source`` is ``config``, ``site_info``, ``history`` or
    ``history offset``."""

    site_id: int
    zone_name: str
    zone_source: str
    installed: date | None
    site_name: str = ""
    info: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def zone(self) -> tzinfo:
        return zone_of(self.zone_name)

    @property
    def fixed_offset(self) -> bool:
        """Whether the zone is a fixed offset (learnt from an offset, not a zone name)."""
        return fixed_offset_minutes(self.zone_name) is not None

    @property
    def request_zone(self) -> str:
        """The ``time_zone`` parameter for history requests: the IANA name, or ``""`` (not
        sent) for a fixed offset, which is not a zone Tesla knows."""
        return "" if self.fixed_offset else self.zone_name

    def describe_zone(self) -> str:
        """``America/Denver (from site_info)`` / ``Etc/GMT+7 = UTC-07:00 (from history
        offset)``."""
        minutes = fixed_offset_minutes(self.zone_name)
        fixed = f" = {offset_text(minutes)}" if minutes is not None and \
            self.zone_name != offset_text(minutes) else ""
        return f"{self.zone_name}{fixed} (from {self.zone_source})"

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
    """A usable IANA zone name or ``""``; a non-empty unknown name is logged."""
    zone = iana_zone(value)
    if not zone and isinstance(value, str) and value.strip():
        log.warning("ignoring an unknown time zone name", zone=value)
    return zone


def installation_day(info: dict[str, Any], zone: tzinfo) -> date | None:
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


# --- what a history reply says about the zone ------------------------------------------------


def _first_row_offset(reply: dict[str, Any]) -> int | None:
    """Minutes east of UTC of the first bucket's timestamp (None without a usable one)."""
    rows = reply.get("time_series")
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
        return None
    stamp = rows[0].get("timestamp")
    try:
        parsed = datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
    except ValueError:
        return None
    offset = parsed.utcoffset() if parsed is not None else None
    return None if offset is None else int(offset.total_seconds() // 60)


def _reported_offset(reply: dict[str, Any]) -> int | None:
    value = reply.get("time_zone_offset")
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        return None
    return int(value)


def reply_offset(reply: dict[str, Any]) -> int | None:
    """The UTC offset (minutes) a history reply reports: its timestamps' offset (where the
    site's day starts), else ``time_zone_offset``; None when it reports neither."""
    for minutes in (_first_row_offset(reply), _reported_offset(reply)):
        if minutes is not None:
            try:
                fixed_zone_name(minutes)
            except ValueError:
                continue
            return minutes
    return None


def zone_from_reply(reply: Any) -> tuple[str, str]:
    """``(zone, source)`` from a history reply: its zone name (``history``), else its offset
    as a fixed zone (``history offset``), else ``("", "")``."""
    if not isinstance(reply, dict):
        return "", ""
    name = clean_zone(reply.get("installation_time_zone"))
    if name:
        return name, "history"
    minutes = reply_offset(reply)
    if minutes is None:
        return "", ""
    return fixed_zone_name(minutes), "history offset"


def probe_replies(client: Any, site_id: int, clock: Clock = utc_now) -> Iterator[dict[str, Any]]:
    """Today's energy history reply of the site (then yesterday's), asked for without knowing
    the zone: ``end_date`` is an instant of that day (the API picks the local day containing
    it)."""
    for days_back in PROBE_DAYS_BACK:
        end = clock().astimezone(UTC).replace(microsecond=0) - timedelta(days=days_back)
        yield with_retries(lambda end=end: client.calendar_history(
            site_id, "energy", end - timedelta(days=1), end, "day", None))


# --- the chain ------------------------------------------------------------------------------


def _named_zone(site_id: int, config_zone: str, info: dict[str, Any]) -> tuple[str, str]:
    """Steps 1-2 of the chain (configuration, then site_info); warns when they disagree."""
    configured = clean_zone(config_zone)
    reported = clean_zone(info.get("installation_time_zone"))
    if configured and reported and configured != reported:
        log.warning("TESLA_TIME_ZONE differs from site_info's installation_time_zone; using "
                    "TESLA_TIME_ZONE", site_id=site_id, configured=configured,
                    site_info=reported)
    if configured:
        return configured, "config"
    if reported:
        return reported, "site_info"
    return "", ""


def _probed_zone(site_id: int, replies: Iterator[dict[str, Any]]) -> tuple[str, str]:
    """Steps 3-4: the first reply that names a zone or an offset."""
    for reply in replies:
        zone, source = zone_from_reply(reply)
        if zone:
            return zone, source
    return "", ""


def _warn_fixed(site_id: int, zone: str) -> None:
    minutes = fixed_offset_minutes(zone)
    assert minutes is not None
    log.warning(f"site {site_id}: no time zone name from TESLA_TIME_ZONE, site_info or the "
                f"history reply; using the fixed offset {offset_text(minutes)} the history "
                "reply reports. A fixed offset cannot follow daylight saving time: set "
                "TESLA_TIME_ZONE to the site's IANA zone (e.g. America/Denver)",
                site_id=site_id, zone=zone)


def resolve_zone(site_id: int, config_zone: str, info: dict[str, Any],
                 probe: Callable[[], Iterator[dict[str, Any]]]) -> tuple[str, str]:
    """``(zone, source)`` by the chain; ``probe()`` (history replies) is only called when
    neither the configuration nor ``site_info`` names a zone. Raises ``ConfigError`` naming
    ``TESLA_TIME_ZONE`` when no source knows the zone."""
    zone, source = _named_zone(site_id, config_zone, info)
    if not zone:
        zone, source = _probed_zone(site_id, probe())
    if not zone:
        raise ConfigError(
            f"site {site_id}: the time zone is unknown (neither site_info nor the history "
            "reply name a zone or an offset); set TESLA_TIME_ZONE (tesla.time_zone) to the "
            "site's IANA zone, e.g. America/Los_Angeles")
    if source == "history offset":
        _warn_fixed(site_id, zone)
    return zone, source


def resolve_site(
    client: Any,
    site_id: int,
    config_zone: str,
    *,
    info: dict[str, Any] | None = None,
    clock: Clock = utc_now,
) -> SiteContext:
    """Read ``site_info`` (unless given as ``info``) and resolve the zone by the chain into a
    ``SiteContext``. Raises ``ConfigError`` naming ``TESLA_TIME_ZONE`` when no source knows
    the zone."""
    if info is None:
        info = with_retries(lambda: client.site_info(site_id))
    zone, source = resolve_zone(site_id, config_zone, info,
                                lambda: probe_replies(client, site_id, clock))
    return SiteContext(
        site_id=site_id,
        zone_name=zone,
        zone_source=source,
        installed=installation_day(info, zone_of(zone)),
        site_name=str(info.get("site_name") or ""),
        info=info,
    )


class ReplyZoneCheck:
    """Warns once per site when a history reply names another zone than the resolved one
    (the configuration or site_info won the chain, but Tesla's history disagrees)."""

    def __init__(self) -> None:
        self._warned: set[int] = set()
        self._lock = threading.Lock()

    def check(self, site: SiteContext, reply: Any) -> None:
        named = iana_zone(reply.get("installation_time_zone")) if isinstance(reply, dict) else ""
        if not named or named == site.zone_name:
            return
        with self._lock:
            if site.site_id in self._warned:
                return
            self._warned.add(site.site_id)
        log.warning("the history reply names a different time zone than the one in use",
                    site_id=site.site_id, history_zone=named,
                    in_use=site.describe_zone())
