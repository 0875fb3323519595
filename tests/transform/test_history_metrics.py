"""History (energy, backup, charge) and collector-metrics transforms."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from structlog.testing import capture_logs

from collector.source.metrics import RequestMetrics
from collector.transform import (
    BACKUP_DURATION_UNITS_PER_SECOND,
    backup_duration_seconds,
    backup_event_frame,
    calendar_history_frame,
    charge_session_frame,
    collector_frame,
    energy_history_frame,
    to_line_protocol,
)
from collector.transform.fields import ENERGY_HISTORY
from tests.support import load_payload


def test_energy_history_sparse_totals_are_zero_filled_and_values_unchanged() -> None:
    frame = energy_history_frame(load_payload("energy_history_sparse"), 42)
    data = frame.data
    assert list(data.index) == [pd.Timestamp("2024-09-17T22:40:00Z"),
                                pd.Timestamp("2024-09-17T22:45:00Z"),
                                pd.Timestamp("2024-09-17T22:50:00Z")]
    for name in ENERGY_HISTORY.field_names:  # every known field on every row
        assert data[name].notna().all(), name
        assert str(data[name].dtype) == "float64"
    assert list(data["total_home_usage"]) == [87.0, 0.0, 38509.6384]
    assert list(data["total_solar_generation"]) == [0.0, 724.0, 0.0]
    assert list(data["total_battery_charge"]) == [0.0, 684.0, 0.0]
    assert data["solar_energy_exported"].iloc[1] == 724.0  # Wh, unchanged
    assert "raw_timestamp" not in data.columns


def test_energy_history_keeps_unknown_numeric_fields_as_float_where_present() -> None:
    frame = energy_history_frame(load_payload("energy_history_sparse"), 42)
    column = frame.data["vpp_energy_exported_new_field"]
    assert column.isna().tolist() == [True, True, False] and column.iloc[2] == 5.0
    lines = to_line_protocol(frame)
    assert "vpp_energy_exported_new_field=5.0" in lines[2]
    assert "vpp_energy_exported_new_field" not in lines[0]
    assert "total_battery_charge=0.0" in lines[0]


@pytest.mark.parametrize("name", ["energy_history_empty", "energy_history_missing"])
def test_energy_history_without_time_series_is_empty(name: str) -> None:
    frame = energy_history_frame(load_payload(name), 42)
    assert frame.empty and to_line_protocol(frame) == []


def test_fall_back_day_repeated_wall_clock_times_stay_distinct() -> None:
    frame = energy_history_frame(load_payload("energy_history_fall_back"), 1)
    assert len(frame) == 6
    assert list(frame.data.index.strftime("%H:%M")) == [
        "14:45", "15:00", "15:30", "16:00", "16:30", "17:00"]
    assert list(frame.data["grid_energy_imported"]) == [40.0, 41.0, 42.0, 43.0, 44.0, 45.0]
    assert len(set(line.rsplit(" ", 1)[1] for line in to_line_protocol(frame))) == 6


def test_malformed_history_rows_are_skipped_and_the_rest_kept() -> None:
    payload = load_payload("energy_history_fall_back")
    rows = payload["response"]["time_series"]
    rows[1]["timestamp"] = "2023-04-02 02:00"  # no offset: ambiguous
    rows[2]["grid_energy_imported"] = "42"  # wrong type
    rows.append("not an object")
    with capture_logs() as logs:
        frame = energy_history_frame(payload, 1)
    assert list(frame.data["grid_energy_imported"]) == [40.0, 43.0, 44.0, 45.0]
    (event,) = [e for e in logs if e["event"] == "malformed_records_skipped"]
    assert event["skipped"] == 3 and event["kept"] == 4


def test_backup_duration_is_milliseconds() -> None:
    assert BACKUP_DURATION_UNITS_PER_SECOND == 1000
    assert backup_duration_seconds(3862580) == 3862.58  # 1 h 04 min 23 s
    assert backup_duration_seconds(1980032) == 1980.032  # exact: ms / 1000, not ms * 0.001
    frame = backup_event_frame(load_payload("backup_history"), 5)
    assert list(frame.data.index) == [pd.Timestamp("2022-04-19T10:55:53Z"),
                                      pd.Timestamp("2023-01-01T20:10:00Z")]
    assert list(frame.data["duration_seconds"]) == pytest.approx([3862.58, 1.5])
    assert to_line_protocol(frame)[0] == (
        "backup_event,site_id=5 duration_seconds=3862.58 1650365753")


def test_charge_sessions_with_proto_times_and_optional_din() -> None:
    frame = charge_session_frame(load_payload("charge_history"), 5)
    assert [int(t.timestamp()) for t in frame.data.index] == [1700000000, 1700100000, 1700200000]
    assert list(frame.data["duration_seconds"]) == [3600.0, 1800.5, 0.0]
    lines = to_line_protocol(frame)
    assert lines[0] == ("charge_session,site_id=5 energy_added_wh=7000.0,"
                        "duration_seconds=3600.0 1700000000")
    assert lines[1].startswith("charge_session,site_id=5,din=abd-123 energy_added_wh=3250.5")
    assert lines[2] == "charge_session,site_id=5 duration_seconds=0.0 1700200000"


def test_calendar_history_dispatch() -> None:
    assert calendar_history_frame("backup", load_payload("backup_history"), 1).measurement == (
        "backup_event")
    with pytest.raises(ValueError, match="unknown history kind"):
        calendar_history_frame("soe", {}, 1)


def test_collector_frame_from_request_metrics_window() -> None:
    metrics = RequestMetrics()
    metrics.record("live_status", 100.0, billable=True)
    metrics.record("live_status", 300.0, error=True)  # a 5xx: not billed
    metrics.record("site_info", 50.0, rate_limited=True, billable=True)  # 429 < 500: billed
    when = datetime(2024, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)
    frame = collector_frame(metrics.take_window(), "live", when, points_written=12,
                            spool_points=0)
    assert to_line_protocol(frame) == [
        "collector,job=live,endpoint=live_status requests=2i,errors=1i,rate_limited=0i,"
        "latency_ms=200.0,billable=1i 1704067200",
        "collector,job=live,endpoint=site_info requests=1i,errors=0i,rate_limited=1i,"
        "latency_ms=50.0,billable=1i 1704067200",
        "collector,job=live,endpoint=influxdb points_written=12i,spool_points=0i 1704067200",
    ]
