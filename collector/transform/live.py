"""live_status response -> ``live_status`` and ``wall_connector`` frames.

Time is the response's own ``timestamp`` (offset-aware, converted to UTC). Every field is
optional (``energy_left``/``total_pack_energy`` are often missing; ``wall_connectors`` may be
``[]`` or ``null``). The derived import/export and charge/discharge powers are >= 0 and are
absent when their source power is absent. A sample dated outside the caller's ``TimeBounds``
or holding a value off its field's plausibility limit is skipped whole. Pure: no I/O except a
warning for malformed or implausible data.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from collector.log import get_logger
from collector.transform.fields import (
    LIVE_STATUS,
    LIVE_STATUS_DERIVED,
    LIVE_STATUS_DERIVED_FIELDS,
    WALL_CONNECTOR,
    MalformedRecord,
    Schema,
    TimeBounds,
    pick,
)
from collector.transform.frame import (
    Frame,
    Parsed,
    Row,
    build_frame,
    parse_records,
    parse_time,
    unwrap,
)
from collector.transform.lineprotocol import row_line

log = get_logger(__name__)

#: live_status with the derived fields appended (all float W).
LIVE_STATUS_FULL = Schema(LIVE_STATUS.measurement, LIVE_STATUS.tags,
                          LIVE_STATUS.fields + LIVE_STATUS_DERIVED_FIELDS)


class LiveStatusFrames(NamedTuple):
    live_status: Frame
    wall_connector: Frame


def derived_powers(values: dict[str, Any]) -> dict[str, float]:
    """grid import/export and battery discharge/charge (>= 0) from the signed powers."""
    derived = {}
    for name, (source, sign) in LIVE_STATUS_DERIVED.items():
        if source in values:
            power = sign * values[source]
            derived[name] = power if power > 0 else 0.0
    return derived


class LiveStatusRows(NamedTuple):
    """One live_status response normalized into rows, before any frame or line is built:
    the one definition both ``live_status_frames`` and ``live_status_lines`` use."""

    live: list[Row]
    wall_connector: list[Row]
    #: Records of the response left out as malformed or implausible, and the first reason.
    live_skipped: int = 0
    live_reason: str = ""
    wall_skipped: int = 0
    wall_reason: str = ""


def live_status_rows(response: Any, site_id: int | str, site_name: str | None = None,
                     bounds: TimeBounds | None = None) -> LiveStatusRows:
    """The rows of one live_status response (envelope optional). A response whose timestamp
    is missing, unparseable or outside ``bounds``, or with a value off its field's
    plausibility limit, gives no rows (``live_skipped`` 1) and one warning naming the field
    and value."""
    body = unwrap(response)
    site = str(site_id)
    try:
        if not isinstance(body, dict):
            raise MalformedRecord("response is not an object")
        when = parse_time(body.get("timestamp"))
        if bounds is not None:
            bounds.check(when)
        values = pick(LIVE_STATUS.fields, body)
    except MalformedRecord as exc:
        log.warning("malformed_live_status_skipped", site_id=site, reason=str(exc))
        return LiveStatusRows([], [], 1, str(exc))
    values.update(derived_powers(values))
    tags = {"site_id": site, "site_name": site_name or None}
    wall = wall_connector_rows(body.get("wall_connectors"), site, when)
    return LiveStatusRows([Row(when, tags, values)], wall.rows, 0, "", wall.skipped,
                          wall.reason)


def live_status_frames(response: Any, site_id: int | str, site_name: str | None = None,
                       bounds: TimeBounds | None = None) -> LiveStatusFrames:
    """Both frames of one live_status response (``live_status_rows`` as frames); a skipped
    response gives two empty frames, the live one with ``skipped`` 1."""
    rows = live_status_rows(response, site_id, site_name, bounds)
    live = build_frame(LIVE_STATUS_FULL, rows.live).with_skipped(rows.live_skipped,
                                                                 rows.live_reason)
    wall = build_frame(WALL_CONNECTOR, rows.wall_connector).with_skipped(rows.wall_skipped,
                                                                         rows.wall_reason)
    return LiveStatusFrames(live, wall)


def live_status_lines(rows: LiveStatusRows) -> list[str]:
    """The line protocol of ``rows``, byte for byte what ``to_line_protocol`` makes of
    ``live_status_frames`` (no pandas: a live poll is one or a few points)."""
    return ([line for row in rows.live if (line := row_line(LIVE_STATUS_FULL, row))]
            + [line for row in rows.wall_connector
               if (line := row_line(WALL_CONNECTOR, row))])


def wall_connector_rows(connectors: Any, site_id: str, when: int) -> Parsed:
    """One row per Wall Connector, tagged by ``din``; entries without a din, or with a value
    off its plausibility limit, are skipped."""

    def parse(entry: dict[str, Any]) -> Row:
        din = entry.get("din")
        if not isinstance(din, str) or not din:
            raise MalformedRecord("wall connector without a din")
        return Row(when, {"site_id": site_id, "din": din}, pick(WALL_CONNECTOR.fields, entry))

    return parse_records(connectors, parse, "wall_connectors", site_id=site_id)
