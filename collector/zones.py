"""Names of the time zones the collector resolves for a site: IANA zones and fixed UTC offsets.

A site's zone is normally an IANA name (``America/Denver``). When the Fleet API names no zone
and only reports an offset, the site gets a *fixed* offset, named so that every consumer can
use it: whole hours get IANA's own ``Etc/GMT`` names (whose sign is inverted: ``Etc/GMT+7`` is
UTC-07:00), which ``zoneinfo``, pandas and InfluxQL's ``tz()`` all accept; other offsets get
``UTC+05:30``-style names, which ``zone_of`` and pandas accept. A fixed offset cannot follow
daylight saving time.

Pure and stdlib-only (cheap to import): it must not read configuration or the network.
"""

from __future__ import annotations

import re
from datetime import timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_UTC_NAME = re.compile(r"^UTC([+-])(\d{2}):(\d{2})$")
_ETC_NAME = re.compile(r"^Etc/GMT([+-])(\d{1,2})$")
MAX_OFFSET_MINUTES = 14 * 60


def offset_text(minutes: int) -> str:
    """``-420`` -> ``UTC-07:00`` (for messages)."""
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def fixed_zone_name(minutes: int) -> str:
    """The zone name of a fixed offset of ``minutes`` east of UTC (``-420`` -> ``Etc/GMT+7``,
    ``330`` -> ``UTC+05:30``, ``0`` -> ``UTC``). Raises ``ValueError`` beyond +-14 h."""
    if abs(minutes) > MAX_OFFSET_MINUTES:
        raise ValueError(f"UTC offset of {minutes} minutes is out of range")
    if minutes == 0:
        return "UTC"
    if minutes % 60 == 0:
        return f"Etc/GMT{'-' if minutes > 0 else '+'}{abs(minutes) // 60}"
    return offset_text(minutes)


def fixed_offset_minutes(name: str) -> int | None:
    """The offset of a fixed-offset zone name (``Etc/GMT+7`` -> -420), None for other names."""
    if name == "UTC":
        return 0
    match = _UTC_NAME.match(name)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        return sign * (int(match.group(2)) * 60 + int(match.group(3)))
    match = _ETC_NAME.match(name)
    if match:
        return (1 if match.group(1) == "-" else -1) * int(match.group(2)) * 60
    return None


def is_fixed(name: str) -> bool:
    """Whether ``name`` is a fixed offset (no daylight saving time rules)."""
    return fixed_offset_minutes(name) is not None


@lru_cache(maxsize=256)
def zone_of(name: str) -> tzinfo:
    """The tzinfo of an IANA name or a ``UTC+05:30`` fixed-offset name (``ValueError`` when
    neither)."""
    match = _UTC_NAME.match(name)
    if match:
        minutes = fixed_offset_minutes(name)
        assert minutes is not None
        return timezone(timedelta(minutes=minutes), name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time zone name") from None


def iana_zone(value: object) -> str:
    """``value`` stripped when it is a known IANA zone name, else ``""`` (empty, missing and
    unknown names all mean unknown)."""
    if not isinstance(value, str) or not value.strip():
        return ""
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return ""
    return value.strip()
