"""The daemon against the simulator and a real influxd: types, duplicates, outages, signals, 429."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from collector import app
from collector.config import (
    BackfillSettings,
    IntervalSettings,
    Secret,
    Settings,
    TeslaSettings,
)
from collector.errors import CollectorError
from collector.health import HEARTBEAT_FILE, check_heartbeat
from collector.jobs import Site
from collector.sim import FaultConfig, FaultRule, SimClock, SimConfig, SimServer
from tests.support import make_settings

START = datetime(2024, 6, 12, 19, 0, tzinfo=UTC)
INSTALLED = date(2023, 3, 1)


@pytest.fixture
def sim():
    with SimServer(SimConfig(sites=2, seed=7, clock=SimClock.fixed(START),
                                     installation_date=INSTALLED)) as server:
        yield server


def daemon_settings(base: Settings, sim: SimServer, **intervals: float) -> Settings:
    tesla = TeslaSettings(api_url=sim.base_url, auth_url=sim.auth_url,
                          access_token=Secret("daemon-test-token"), max_retries=1)
    return dataclasses.replace(base, tesla=tesla, intervals=IntervalSettings(**intervals))


def count(server, db: str, measurement: str, field: str, where: str = "") -> int:
    rows = server.query(f'SELECT count("{field}") FROM "{measurement}" {where}', db=db)
    return int(rows[0]["count"]) if rows else 0


def test_run_once_writes_every_measurement_with_schema_types(sim, influxd, influx_db,
                                                              influx_settings):
    daemon = app.build(daemon_settings(influx_settings, sim), clock=sim.clock.now)
    assert app.run_once(daemon) > 0
    types = {m: influxd.field_types(influx_db, m) for m in
             ("live_status", "wall_connector", "site_info", "energy_history", "collector")}
    assert types["live_status"]["solar_power"] == "float"
    assert types["live_status"]["grid_import_power"] == "float"
    assert types["live_status"]["grid_status"] == "string"
    assert types["live_status"]["storm_mode_active"] == "boolean"
    assert types["wall_connector"]["wall_connector_state"] == "integer"
    assert types["wall_connector"]["wall_connector_power"] == "float"
    assert types["site_info"]["backup_reserve_percent"] == "float"
    assert types["site_info"]["default_real_mode"] == "string"
    assert types["energy_history"]["total_home_usage"] == "float"
    assert types["collector"]["requests"] in ("float", "integer")
    sites = influxd.query('SHOW TAG VALUES FROM "live_status" WITH KEY = "site_id"', db=influx_db)
    assert sorted(r["value"] for r in sites) == sorted(str(s) for s in sim.site_ids)
    assert count(influxd, influx_db, "live_status", "load_power") == 2


def test_repeated_sample_is_not_written_again(sim, influxd, influx_db, influx_settings):
    daemon = app.build(daemon_settings(influx_settings, sim), clock=sim.clock.now)
    collector, sites = daemon.collector, daemon.sites
    assert collector.poll_live(sites) > 0
    assert collector.poll_live(sites) == 0  # frozen clock: same response timestamp
    sim.clock.advance(10)
    assert collector.poll_live(sites) > 0
    assert count(influxd, influx_db, "live_status", "load_power") == 4


def test_influxdb_outage_loses_no_sample(sim, private_influxd, tmp_state_dir):
    db = private_influxd.create_database("outage")
    settings = daemon_settings(make_settings(private_influxd.url, db, tmp_state_dir), sim)
    daemon = app.build(settings, clock=sim.clock.now)
    collector, sites = daemon.collector, daemon.sites
    polls = 0
    for step in range(12):
        if step == 4:
            private_influxd.stop()
        if step == 9:
            private_influxd.start()
        sim.clock.advance(10)
        collector.poll_live(sites)
        polls += 1
        if 4 <= step < 9:
            assert collector.sink.spool_points > 0
    served = sim.requests.count("live_status", 200)
    assert served == polls * len(sites)
    assert count(private_influxd, db, "live_status", "load_power") == served
    assert collector.sink.spool_points == 0


def _spawn_daemon(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "collector", "--log-format", "json", "run"],
                            env=env, stdout=subprocess.DEVNULL, stderr=log_path.open("ab"))


def _daemon_env(sim: SimServer, influx_url: str, db: str, state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESLA_", "INFLUX_",
                                                                      "COLLECTOR_"))}
    env.update(TESLA_API_URL=sim.base_url, TESLA_AUTH_URL=sim.auth_url,
               TESLA_ACCESS_TOKEN="daemon-test-token", INFLUX_URL=influx_url,
               INFLUX_BUCKET=f"{db}/autogen", INFLUX_ORG="-", COLLECTOR_STATE_DIR=str(state),
               COLLECTOR_LIVE_INTERVAL="1", COLLECTOR_SITE_INFO_INTERVAL="3600",
               COLLECTOR_HISTORY_INTERVAL="3600", TESLA_MAX_RETRIES="0")
    return env


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _spooled_lines(state: Path) -> int:
    spool = state / "spool"
    return sum(p.read_text().count("\n") for p in spool.glob("*.lp")) if spool.exists() else 0


def test_sigkill_then_restart_replays_the_spool(private_influxd, tmp_state_dir, tmp_path):
    config = SimConfig(sites=1, seed=3, clock=SimClock(START, speed=20),
                       installation_date=INSTALLED)
    with SimServer(config) as sim:
        db = private_influxd.create_database("killed")
        private_influxd.stop()
        env = _daemon_env(sim, private_influxd.url, db, tmp_state_dir)
        first = _spawn_daemon(env, tmp_path / "daemon.log")
        try:
            _wait_for(lambda: _spooled_lines(tmp_state_dir) >= 5, 60, "spooled live samples")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        served = sim.requests.count("live_status", 200)
        private_influxd.start()
        second = _spawn_daemon(env, tmp_path / "daemon.log")
        try:
            _wait_for(lambda: count(private_influxd, db, "live_status", "load_power") >= served,
                      60, "replayed samples")
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(15) == 0
    stored = private_influxd.query('SELECT "load_power" FROM "live_status"', db=db)
    assert len({row["time"] for row in stored}) == len(stored) >= served


def test_sigterm_exits_zero_promptly_and_heartbeat_is_fresh(sim, influxd, influx_db,
                                                            tmp_state_dir, tmp_path):
    sim.clock = SimClock(START, speed=20)
    env = _daemon_env(sim, influxd.url, influx_db, tmp_state_dir)
    proc = _spawn_daemon(env, tmp_path / "daemon.log")
    try:
        _wait_for(lambda: count(influxd, influx_db, "live_status", "load_power") >= 2, 60,
                  "first live points")
        _wait_for(lambda: (tmp_state_dir / HEARTBEAT_FILE).exists(), 30, "heartbeat")
    finally:
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = proc.wait(15)
    assert code == 0
    assert time.monotonic() - started < 10
    assert check_heartbeat(tmp_state_dir / HEARTBEAT_FILE)[0]


def test_rate_limit_postpones_the_job_by_retry_after(sim, influx_settings):
    daemon = app.build(daemon_settings(influx_settings, sim), clock=sim.clock.now)
    sim.set_faults(FaultConfig(rate_limit=1, rate_window_seconds=600,
                               endpoints=frozenset({"live_status"})))
    daemon.schedule()
    daemon.scheduler.start(paused=True)
    try:
        job = daemon.scheduler.get_job("live:0")
        job.func()  # first site answers, the second is rate limited
        before = datetime.now(UTC)
        job.func()
        postponed = daemon.scheduler.get_job("live:0").next_run_time
        assert postponed >= before + timedelta(seconds=500)
    finally:
        daemon.scheduler.shutdown(wait=False)


def test_requests_per_day_budget():
    settings = Settings(intervals=IntervalSettings(live_seconds=30, site_info_seconds=300,
                                                   history_seconds=900))
    assert app.requests_per_day(1, settings) == 2880 + 288 + 4 * 96


def test_one_failing_site_does_not_stop_the_others(sim, influxd, influx_db, influx_settings):
    daemon = app.build(daemon_settings(influx_settings, sim), clock=sim.clock.now)
    ghost = Site(1234567, "ghost")  # unknown to the simulator: 404
    group = [ghost, *daemon.sites]
    assert daemon.collector.poll_live(group) > 0
    assert count(influxd, influx_db, "live_status", "load_power") == 2
    assert list(daemon.collector.tracker.failing) == ["live:1234567"]
    with pytest.raises(CollectorError, match="every site failed"):
        daemon.collector.poll_live([ghost])


def test_job_whose_sites_all_fail_leaves_health_stale(sim, influx_settings):
    daemon = app.build(daemon_settings(influx_settings, sim), clock=sim.clock.now)
    daemon.sites = [Site(1234567, "ghost")]
    daemon.schedule()
    daemon.scheduler.start(paused=True)
    try:
        daemon.scheduler.get_job("live:0").func()
        assert daemon.health.last_write is None
        assert "live:0" in daemon.collector.tracker.failing
        daemon.sites = [Site(sim.site_ids[0], "home")]
        daemon.schedule()
        daemon.scheduler.get_job("live:0").func()
        assert daemon.health.last_write is not None
        assert "live:0" not in daemon.collector.tracker.failing
    finally:
        daemon.scheduler.shutdown(wait=False)


def test_daemon_start_waits_for_an_unreachable_api(sim, influx_settings):
    sim.set_faults(FaultConfig(error=FaultRule(every=1), endpoints=frozenset({"products"})))
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            sim.set_faults(FaultConfig())

    settings = daemon_settings(influx_settings, sim)
    sites = app.wait_for_sites(app.build_client(settings), settings, sleep=sleep)
    assert [s.site_id for s in sites] == sim.site_ids
    assert waits == [2.0, 4.0, 8.0]


def test_shutdown_is_prompt_while_history_waits_for_its_budget(sim, influx_settings):
    settings = dataclasses.replace(daemon_settings(influx_settings, sim),
                                   backfill=BackfillSettings(requests_per_second=0.05))
    daemon = app.build(settings, clock=sim.clock.now)
    daemon.schedule()
    daemon.scheduler.start()
    time.sleep(1.5)  # history and gap fill are now queued behind a 20 s-per-request budget
    started = time.monotonic()
    daemon.shutdown()
    assert time.monotonic() - started < 5
    assert not [t for t in threading.enumerate() if "ThreadPoolExecutor" in t.name]
    daemon.close()


def test_the_daemon_resolves_zones_by_the_one_chain_once(sim, influxd, influx_db,
                                                         influx_settings):
    """Site 1 (Los Angeles) names its zone in site_info; site 2 (Adelaide) has
    ``installation_time_zone: ""`` and needs one probe of the history reply, at start only.
    TESLA_TIME_ZONE, when set, overrides both without any probe."""
    adelaide = sim.site_ids[1]
    assert sim.site_info(adelaide)["installation_time_zone"] == ""
    daemon = app.build(daemon_settings(influx_settings, sim), clock=sim.clock.now)
    zones = {s.site_id: s.time_zone for s in daemon.sites}
    assert zones == {sim.site_ids[0]: "America/Los_Angeles", adelaide: "Australia/Adelaide"}
    probes = sim.requests.count("calendar_history")
    assert probes == 1  # only Adelaide needed the history reply
    assert app.run_once(daemon) > 0
    history = daemon.collector.history
    assert history.site(adelaide).zone_source == "history"  # resolved at start, cached
    assert {s.site_id: s.time_zone for s in daemon.sites} == zones

    configured = dataclasses.replace(
        influx_settings, tesla=dataclasses.replace(daemon_settings(influx_settings, sim).tesla,
                                                   time_zone="Europe/Berlin"))
    sim.requests.clear()
    daemon = app.build(configured, clock=sim.clock.now)
    assert {s.time_zone for s in daemon.sites} == {"Europe/Berlin"}
    assert sim.requests.count("calendar_history") == 0  # the override needs no probe
    assert daemon.collector.history.site(adelaide).zone_source == "config"
