"""History responses -> ``energy_history``, ``backup_event`` and ``charge_session`` frames.

- calendar_history kind=energy: one point per bucket start (UTC instant; rows are keyed by
  instant, so the repeated wall-clock hour of a fall-back day stays two distinct points). The
  API's Wh values are kept unchanged. The API omits zero-valued fields, so every known energy
  field is written on every row, as 0.0 when omitted; unknown new numeric fields are kept as
  float where present. ``time_series`` null or missing -> empty frame.
- calendar_history kind=backup: ``duration`` is in MILLISECONDS (the only recorded value fits
  that, see the reference); converted once, in ``backup_duration_seconds``.
- telemetry_history kind=charge: protobuf Timestamp/Duration objects; tag ``din`` when present.

Pure functions; malformed records are skipped with one warning per response.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collector.transform.fields import (
    BACKUP_EVENT,
    CHARGE_SESSION,
    ENERGY_HISTORY,
    ENERGY_HISTORY_NON_FIELDS,
    Field,
    Kind,
    pick,
)
from collector.transform.frame import (
    Frame,
    Row,
    build_frame,
    dedupe_by_time,
    parse_records,
    parse_time,
    proto_duration_seconds,
    unwrap,
)

#: calendar_history kind=backup reports ``duration`` in milliseconds.
BACKUP_DURATION_UNIT_SECONDS = 0.001

_KNOWN_ENERGY = frozenset(ENERGY_HISTORY.field_names)


def backup_duration_seconds(duration: float) -> float:
    """The one place that converts a backup event's ``duration`` (ms) to seconds."""
    return float(duration) * BACKUP_DURATION_UNIT_SECONDS


def _body_list(response: Any, key: str) -> Any:
    body = unwrap(response)
    return body.get(key) if isinstance(body, Mapping) else None


def energy_history_frame(response: Any, site_id: int | str) -> Frame:
    """calendar_history kind=energy -> ``energy_history`` (zero-omitted fields as 0.0)."""
    site = str(site_id)
    extra: dict[str, None] = {}

    def parse(record: Mapping[str, Any]) -> Row:
        values = pick(ENERGY_HISTORY.fields, record)
        values.update(_unknown_numbers(record))
        row = Row(parse_time(record.get("timestamp")), {"site_id": site}, values)
        extra.update(dict.fromkeys(k for k in values if k not in _KNOWN_ENERGY))
        return row

    rows = parse_records(_body_list(response, "time_series"), parse, "energy_history",
                         site_id=site)
    return build_frame(ENERGY_HISTORY, dedupe_by_time(rows), extra, fill_zero=True)


def _unknown_numbers(record: Mapping[str, Any]) -> dict[str, float]:
    """New numeric fields the API may add: kept as float (bools and strings ignored)."""
    found = {}
    for key, value in record.items():
        if key in _KNOWN_ENERGY or key in ENERGY_HISTORY_NON_FIELDS:
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            found[key] = float(value)
    return found


def backup_event_frame(response: Any, site_id: int | str) -> Frame:
    """calendar_history kind=backup -> ``backup_event`` (time = event start)."""
    site = str(site_id)
    duration = Field("duration", Kind.FLOAT)

    def parse(record: Mapping[str, Any]) -> Row:
        raw = pick((duration,), record).get("duration")
        values = {} if raw is None else {"duration_seconds": backup_duration_seconds(raw)}
        return Row(parse_time(record.get("timestamp")), {"site_id": site}, values)

    rows = parse_records(_body_list(response, "events"), parse, "backup_event", site_id=site)
    return build_frame(BACKUP_EVENT, dedupe_by_time(rows))


def charge_session_frame(response: Any, site_id: int | str) -> Frame:
    """telemetry_history kind=charge -> ``charge_session`` (time = charge start)."""
    site = str(site_id)
    energy = CHARGE_SESSION.fields[0]

    def parse(record: Mapping[str, Any]) -> Row:
        values = pick((energy,), record)
        if record.get("charge_duration") is not None:
            values["duration_seconds"] = proto_duration_seconds(record["charge_duration"])
        din = record.get("din")
        tags = {"site_id": site, "din": din if isinstance(din, str) and din else None}
        return Row(parse_time(record.get("charge_start_time")), tags, values)

    rows = parse_records(_body_list(response, "charge_history"), parse, "charge_session",
                         site_id=site)
    return build_frame(CHARGE_SESSION, dedupe_by_time(rows))


def calendar_history_frame(kind: str, response: Any, site_id: int | str) -> Frame:
    """Dispatch by history ``kind``: energy, backup or charge."""
    transforms = {"energy": energy_history_frame, "backup": backup_event_frame,
                  "charge": charge_session_frame}
    if kind not in transforms:
        raise ValueError(f"unknown history kind {kind!r}; expected one of {sorted(transforms)}")
    return transforms[kind](response, site_id)
