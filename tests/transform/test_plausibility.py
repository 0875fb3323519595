"""Plausibility limits per field kind and point-time bounds: an implausible record is skipped
with one warning naming the field and value, and never reaches the line protocol."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from collector.transform import (
    TimeBounds,
    backup_event_frame,
    charge_session_frame,
    energy_history_frame,
    live_status_frames,
    site_info_frame,
    to_line_protocol,
)
from collector.transform.fields import BUCKET_ENERGY, ENERGY_HISTORY, MAX_SITE_POWER_W
from tests.support import load_payload

NOW = datetime(2024, 9, 18, 0, 0, tzinfo=UTC)
BOUNDS = TimeBounds.around(NOW, date(2023, 3, 1))


def _live(**changes) -> dict:
    payload = load_payload("live_status_wall_connectors")
    payload["response"].update(changes)
    return payload


@pytest.mark.parametrize(("field", "value"), [
    ("solar_power", 1e308),
    ("battery_power", -1e308),
    ("percentage_charged", -1e308),
    ("percentage_charged", 100.5),
    ("energy_left", -5.0),
    ("total_pack_energy", 1e12),
    ("load_power", float("inf")),
])
def test_live_sample_with_an_absurd_value_is_skipped_with_one_warning(field, value):
    with capture_logs() as logs:
        frames = live_status_frames(_live(**{field: value}), 1, "Home", BOUNDS)
    assert frames.live_status.empty and frames.wall_connector.empty
    assert frames.live_status.skipped == 1
    assert f"{field}={value!r}" in frames.live_status.skip_reason
    (event,) = [e for e in logs if e["log_level"] == "warning"]
    assert field in event["reason"] and "plausible" in event["reason"]


def test_live_sample_within_limits_is_kept():
    frames = live_status_frames(_live(percentage_charged=100.0, solar_power=0), 1, "Home",
                                BOUNDS)
    assert len(frames.live_status) == 1 and frames.live_status.skipped == 0
    assert len(frames.wall_connector) == 2


@pytest.mark.parametrize("stamp", ["1900-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
                                   "2099-01-01T00:00:00Z", "2023-02-27T12:00:00Z"])
def test_live_sample_dated_outside_the_site_s_life_is_skipped(stamp):
    frames = live_status_frames(_live(timestamp=stamp), 1, "Home", BOUNDS)
    assert frames.live_status.empty and "outside the plausible range" in \
        frames.live_status.skip_reason


def test_time_bounds_are_installation_day_minus_one_to_now_plus_one():
    assert BOUNDS.earliest == int(datetime(2023, 2, 28, tzinfo=UTC).timestamp())
    assert BOUNDS.latest == int((NOW + timedelta(days=1)).timestamp())
    unknown = TimeBounds.around(NOW)
    assert unknown.earliest == int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())


def test_a_wall_connector_with_an_absurd_value_is_skipped_alone():
    payload = _live()
    payload["response"]["wall_connectors"][0]["wall_connector_state"] = 10**30
    payload["response"]["wall_connectors"][1]["wall_connector_power"] = 1e308
    frames = live_status_frames(payload, 1, "Home", BOUNDS)
    assert len(frames.live_status) == 1
    assert frames.wall_connector.empty and frames.wall_connector.skipped == 2


def _day(values: dict[int, dict], count: int = 288, start: str = "2024-09-17T00:00:00+10:00"):
    first = datetime.fromisoformat(start)
    rows = []
    for i in range(count):
        row = {"timestamp": (first + timedelta(minutes=5 * i)).isoformat(),
               "grid_energy_imported": 12.5, "total_home_usage": 80.0}
        row.update(values.get(i, {}))
        rows.append(row)
    return {"response": {"time_series": rows}}


def test_energy_buckets_of_plus_minus_1e308_are_skipped_the_rest_kept():
    reply = _day({3: {"grid_energy_imported": 1e308}, 7: {"total_home_usage": -1e308},
                  9: {"solar_energy_exported": float("inf")}})
    with capture_logs() as logs:
        frame = energy_history_frame(reply, 1, BOUNDS)
    assert len(frame) == 285 and frame.skipped == 3
    assert frame.data["grid_energy_imported"].max() == 12.5
    assert frame.data["total_home_usage"].min() == 80.0
    (event,) = [e for e in logs if e["event"] == "malformed_records_skipped"]
    assert event["skipped"] == 3 and "grid_energy_imported=1e+308" in event["first_reason"]
    assert all("e+308" not in line and "inf" not in line for line in to_line_protocol(frame))


def test_bucket_energy_limit_follows_the_bucket_length():
    five_minutes = BUCKET_ENERGY.bounds(300)[1]
    assert five_minutes == pytest.approx(MAX_SITE_POWER_W * 300 / 3600)
    too_much = five_minutes * 1.5
    frame = energy_history_frame(_day({0: {"total_home_usage": too_much}}), 1, BOUNDS)
    assert frame.skipped == 1
    daily = {"response": {"time_series": [{"timestamp": "2024-09-17T01:00:00+10:00",
                                            "total_home_usage": too_much}]}}
    assert len(energy_history_frame(daily, 1, BOUNDS)) == 1  # one bucket: taken as a day


@pytest.mark.parametrize("start", ["1900-01-01T00:00:00+00:00", "1969-12-31T00:00:00+00:00",
                                   "2099-01-01T00:00:00+00:00"])
def test_energy_buckets_dated_outside_the_site_s_life_are_skipped(start):
    frame = energy_history_frame(_day({}, count=4, start=start), 1, BOUNDS)
    assert frame.empty and frame.skipped == 4 and "timestamp" in frame.skip_reason


def test_infinite_energy_is_no_longer_written_as_zero():
    reply = json.loads('{"response": {"time_series": [{"timestamp": "2024-09-17T00:00:00+10:00",'
                       ' "total_home_usage": 1e999}, {"timestamp": "2024-09-17T00:05:00+10:00",'
                       ' "total_home_usage": 3}]}}')
    frame = energy_history_frame(reply, 1, BOUNDS)
    assert list(frame.data["total_home_usage"]) == [3.0] and frame.skipped == 1


def test_an_api_field_named_time_is_not_an_energy_field():
    reply = _day({0: {"time": 5}}, count=2)
    frame = energy_history_frame(reply, 1, BOUNDS)
    assert "time" not in frame.data.columns and len(frame) == 2


def test_backup_events_and_charge_sessions_with_absurd_values_are_skipped():
    backup = {"response": {"events": [
        {"timestamp": "2024-04-19T20:55:53+10:00", "duration": 3862580},
        {"timestamp": "2024-04-20T20:55:53+10:00", "duration": 1e308},
        {"timestamp": "1900-01-01T00:00:00+10:00", "duration": 1000},
        {"timestamp": "2099-01-01T00:00:00+10:00", "duration": 1000},
    ], "total_events": 4}}
    frame = backup_event_frame(backup, 1, BOUNDS)
    assert len(frame) == 1 and frame.skipped == 3
    charge = load_payload("charge_history")
    sessions = charge["response"]["charge_history"]
    sessions[0]["energy_added_wh"] = -1e308
    frame = charge_session_frame(charge, 1, BOUNDS)
    assert len(frame) == len(sessions) - 1 and frame.skipped == 1


def test_site_info_with_an_absurd_value_is_skipped():
    info = load_payload("site_info")
    info["response"]["backup_reserve_percent"] = 1e308
    frame = site_info_frame(info, 1, "Home", NOW)
    assert frame.empty


def test_every_numeric_schema_field_has_a_limit():
    from collector.transform.fields import SCHEMAS, Kind

    unlimited = [f"{s.measurement}.{f.name}" for s in SCHEMAS.values() for f in s.fields
                 if f.kind in (Kind.FLOAT, Kind.INT) and f.limit is None]
    assert unlimited == [f"collector.{n}" for n in ("requests", "errors", "rate_limited",
                                                     "latency_ms", "points_written",
                                                     "spool_points", "billable",
                                                     "billable_month",
                                                     "api_cost_month_usd")]
    assert all(f.limit is BUCKET_ENERGY for f in ENERGY_HISTORY.fields)
