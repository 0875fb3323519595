"""A site whose site_info has ``installation_time_zone: ""`` and whose history replies carry
only ``time_zone_offset`` backfills exactly with no configuration, with one warning naming
TESLA_TIME_ZONE; paged backup histories are followed to the last event."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from collector.backfill import Scope, run_backfill
from collector.backfill.windows import day_start
from collector.cli import main
from collector.config import Secret, TeslaSettings
from collector.sim import ENERGY_FIELDS, SimClock, SimConfig, SimServer
from collector.sim.spec import default_site
from collector.sink import InfluxSink
from collector.source import RateLimiter, build_client
from collector.zones import zone_of
from tests.backfill.conftest import INSTALLED, NOW, stored_by_day

DENVER = zone_of("America/Denver")
DAYS = [date(2024, 3, 9), date(2024, 3, 10), date(2024, 7, 4), date(2024, 11, 3),
        date(2024, 11, 30)]  # standard time, spring forward, summer, fall back, yesterday


@pytest.fixture
def offset_sim() -> Iterator[SimServer]:
    spec = dataclasses.replace(default_site(0, 11, INSTALLED, "America/Denver"),
                               report_installation_zone=False, history_zone="offset")
    config = SimConfig(sites=(spec,), seed=11, clock=SimClock.fixed(NOW), backup_page_size=2)
    with SimServer(config) as server:
        yield server


@pytest.fixture
def offset_settings(offset_sim, influx_settings):
    tesla = TeslaSettings(api_url=offset_sim.base_url, auth_url=offset_sim.auth_url,
                          access_token=Secret("sim-access-token"), max_retries=2)
    return dataclasses.replace(influx_settings, tesla=tesla)


def _now() -> datetime:
    return NOW


def _warned(stderr: str) -> int:
    return len([line for line in stderr.splitlines() if "TESLA_TIME_ZONE" in line])


def test_offset_only_site_backfills_exactly_with_one_warning(offset_sim, offset_settings,
                                                             influxd, influx_db):
    site = offset_sim.site_ids[0]
    assert offset_sim.site_info(site)["installation_time_zone"] == ""
    with (build_client(offset_settings, limiter=RateLimiter(500.0)) as client,
          InfluxSink(offset_settings) as sink, capture_logs() as logs):
        summaries = [run_backfill(client, sink, [site], Scope(start=day, end=day,
                                                              kinds=("energy",)), now=_now)
                     for day in DAYS]
    assert all(s.ok for s in summaries), [s.error or s.stats for s in summaries]
    warnings = [e for e in logs if e["log_level"] == "warning"]
    fixed = [e for e in warnings if "TESLA_TIME_ZONE" in e["event"]]
    assert len(fixed) == len(DAYS)  # one per run (each run resolves the site once)
    assert "UTC-07:00" in fixed[0]["event"]
    assert len(warnings) == len(fixed)
    stored = stored_by_day(influxd, influx_db, site, DENVER)  # grouped in the real zone
    for day in DAYS:
        truth = offset_sim.energy_rows(site, day)
        assert truth, day
        rows = stored[day]
        assert [r["time"] for r in rows] == [
            int(datetime.fromisoformat(t["timestamp"]).timestamp()) for t in truth], day
        for name in ENERGY_FIELDS:
            assert [r[name] for r in rows] == [float(t.get(name, 0)) for t in truth], (day, name)
    assert len(stored[date(2024, 3, 10)]) == 276 and len(stored[date(2024, 11, 3)]) == 300
    assert set(stored) == set(DAYS)


def test_the_cli_backfill_and_dry_run_agree_on_the_fixed_offset(offset_sim, influxd,
                                                                 influx_db, tmp_state_dir,
                                                                 monkeypatch, capsys):
    env = {"TESLA_API_URL": offset_sim.base_url, "TESLA_ACCESS_TOKEN": "sim-access-token",
           "INFLUX_URL": influxd.url, "INFLUX_BUCKET": f"{influx_db}/autogen",
           "INFLUX_ORG": "-", "COLLECTOR_STATE_DIR": str(tmp_state_dir),
           "COLLECTOR_BACKFILL_RATE": "200", "COLLECTOR_LOG_FORMAT": "console"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("COLLECTOR_CONFIG", "TESLA_SITE_IDS", "TESLA_TIME_ZONE"):
        monkeypatch.delenv(key, raising=False)
    site = str(offset_sim.site_ids[0])
    args = ["backfill", "--site", site, "--start", "2024-07-03", "--end", "2024-07-04",
            "--kind", "energy,backup"]
    assert main([*args, "--dry-run"]) == 0
    dry = capsys.readouterr()
    assert "zone Etc/GMT+7 = UTC-07:00 (from history offset)" in dry.out
    assert _warned(dry.err) == 1
    assert offset_sim.requests.count("calendar_history") == 1  # the probe, no import
    assert main(args) == 0, capsys.readouterr()
    run = capsys.readouterr()
    assert _warned(run.err) == 1
    assert run.out.splitlines()[-1].startswith("backfill complete")
    rows = influxd.query("SELECT count(total_home_usage) FROM energy_history", db=influx_db)
    assert rows[0]["count"] == 2 * 288


def test_paged_backup_history_is_followed_to_the_first_event(offset_sim, offset_settings,
                                                              influxd, influx_db):
    site = offset_sim.site_ids[0]
    with (build_client(offset_settings, limiter=RateLimiter(500.0)) as client,
          InfluxSink(offset_settings) as sink):
        summary = run_backfill(client, sink, [site], Scope(start=INSTALLED, end=None,
                                                           kinds=("backup",)), now=_now)
    assert summary.ok
    start = day_start(INSTALLED, DENVER).timestamp()  # January: Denver is at UTC-07:00 too
    outages = offset_sim.backup_events(site, start, NOW.timestamp())
    assert len(outages) > 4  # more than two pages of two
    stats = summary.get(site, "backup")
    assert stats.requests > stats.windows  # the pages were followed
    events = influxd.query(f"SELECT * FROM backup_event WHERE site_id = '{site}'",
                           db=influx_db)
    assert [e["time"] for e in events] == [int(o.start) for o in outages]
    assert [e["duration_seconds"] for e in events] == [o.duration_ms / 1000 for o in outages]
    assert datetime.fromtimestamp(events[0]["time"], UTC) >= NOW - timedelta(days=400)
