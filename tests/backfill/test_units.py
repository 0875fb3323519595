"""Unit tests of the pure parts: reply checks, checkpoint file, install date, summary."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from collector.backfill.checkpoint import Checkpoint
from collector.backfill.convert import WrongDay, check_day, convert, in_window
from collector.backfill.progress import eta_seconds, render_bar
from collector.backfill.site import installation_day
from collector.backfill.stats import Summary, format_summary
from collector.backfill.windows import plan_days, plan_kind
from collector.errors import InvalidResponse

LA = ZoneInfo("America/Los_Angeles")
BRISBANE = ZoneInfo("Australia/Brisbane")


def energy_reply(*rows: dict, zone: str = "Australia/Brisbane") -> dict:
    return {"serial_number": "1118431-00-L--TG1", "period": "day",
            "installation_time_zone": zone, "time_series": list(rows)}


def test_reply_for_the_requested_day_converts_with_zero_fields_as_0():
    win = plan_days(5, [date(2024, 9, 18)], BRISBANE)[0]
    reply = energy_reply(
        {"timestamp": "2024-09-18T08:45:00+10:00", "solar_energy_exported": 724,
         "battery_energy_imported_from_solar": 684, "total_solar_generation": 724},
        {"timestamp": "2024-09-18T08:50:00+10:00", "total_home_usage": 38509.6384})
    converted = convert(win, reply, BRISBANE)
    assert converted.buckets == 2
    first, second = converted.lines
    stamp = int(datetime(2024, 9, 17, 22, 45, tzinfo=UTC).timestamp())
    assert first.startswith("energy_history,site_id=5 ") and first.endswith(f" {stamp}")
    assert "solar_energy_exported=724.0" in first and "total_home_usage=0.0" in first
    assert "solar_energy_exported=0.0" in second and "total_home_usage=38509.6384" in second


def test_reply_for_another_day_is_a_wrong_day():
    win = plan_days(5, [date(2024, 9, 18)], BRISBANE)[0]
    reply = energy_reply({"timestamp": "2024-09-17T23:55:00+10:00", "total_home_usage": 1})
    with pytest.raises(WrongDay, match="asked for 2024-09-18"):
        check_day(win, reply, BRISBANE)


@pytest.mark.parametrize("reply", [{"time_series": None}, {"serial_number": "", "period": "day"}])
def test_empty_days_are_valid_and_empty(reply):
    win = plan_days(5, [date(2024, 9, 18)], BRISBANE)[0]
    assert convert(win, reply, BRISBANE).buckets == 0


def test_non_list_time_series_is_invalid():
    win = plan_days(5, [date(2024, 9, 18)], BRISBANE)[0]
    with pytest.raises(InvalidResponse):
        convert(win, {"time_series": "oops"}, BRISBANE)


def test_backup_events_belong_to_the_window_they_start_in_once():
    win = plan_kind(5, "backup", date(2022, 1, 1), date(2022, 12, 31), BRISBANE)[0]
    events = [{"timestamp": "2022-04-19T20:55:53+10:00", "duration": 3862580},
              {"timestamp": "2022-04-19T20:55:53+10:00", "duration": 3862580},
              {"timestamp": "2021-12-31T23:00:00+10:00", "duration": 1000}]
    converted = convert(win, {"events": events, "total_events": 3}, BRISBANE)
    assert converted.events == 1
    assert "duration_seconds=3862.58 " in converted.lines[0]


def test_charge_sessions_filtered_by_start_time():
    win = plan_kind(5, "charge", date(2023, 11, 1), date(2023, 11, 30), LA)[0]
    inside = {"charge_start_time": {"seconds": 1700000000}, "charge_duration": {"seconds": 3600},
              "energy_added_wh": 7000}
    outside = {**inside, "charge_start_time": {"seconds": 1690000000}}
    assert len(in_window(win, [inside, outside], "charge_start_time")) == 1
    converted = convert(win, {"charge_history": [inside, outside]}, LA)
    assert converted.sessions == 1
    assert "energy_added_wh=7000.0" in converted.lines[0]


def test_checkpoint_survives_reload_and_forgets_a_completed_plan(tmp_path):
    path = tmp_path / "state" / "backfill-checkpoint.json"
    windows = plan_kind(1, "energy", date(2024, 1, 1), date(2024, 1, 3), LA)
    cp = Checkpoint(path)
    cp.mark(windows[:2])
    again = Checkpoint(path)
    assert [again.is_done(w) for w in windows] == [True, True, False]
    assert json.loads(path.read_text())["version"] == 1
    again.forget(windows)
    assert not path.exists()
    assert not any(Checkpoint(path).is_done(w) for w in windows)


def test_unreadable_checkpoint_means_refetch(tmp_path):
    path = tmp_path / "cp.json"
    path.write_text("{not json")
    assert len(Checkpoint(path)) == 0


def test_installation_day_is_local():
    info = {"installation_date": "2022-01-01T23:30:00-08:00"}
    assert installation_day(info, ZoneInfo("Asia/Tokyo")) == date(2022, 1, 2)
    assert installation_day({}, LA) is None


def test_summary_lists_each_site_and_kind():
    summary = Summary(wall_seconds=3.2)
    stats = summary.get(7, "energy")
    stats.days, stats.buckets, stats.requests, stats.retries = 2, 576, 3, 1
    lines = format_summary(summary)
    assert "buckets" in lines[0] and "576" in lines[1] and lines[-1].startswith("backfill complete")
    stats.failed, stats.failures = 1, ["site 7 energy 2024-01-01: wrong day"]
    assert "1 failed window" in format_summary(summary)[2]


def test_progress_bar_and_eta():
    assert eta_seconds(0, 10, 5.0) is None
    assert eta_seconds(5, 10, 5.0) == 5.0
    assert "5/10 windows" in render_bar(5, 0, 10, 5.0) and "ETA 0:05" in render_bar(5, 0, 10, 5.0)
