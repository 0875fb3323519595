"""Writes off the poll path: a hung (SIGSTOP'd) or refusing InfluxDB never holds a poll back and
loses nothing; the queue spills to the spool in order; health shows a refusal at once."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from collector import app
from collector.config import IntervalSettings, Secret, Settings, TeslaSettings
from collector.health import HealthServer, check_heartbeat
from collector.sim import SimClock, SimConfig, SimServer
from collector.sink import BackgroundWriter, InfluxSink
from tests.support import InfluxServer, make_settings

START = datetime(2024, 6, 12, 19, 0, tzinfo=UTC)
FAST = {"timeout_seconds": 0.5, "write_deadline_seconds": 1.0, "retry_seconds": 0.3,
        "refused_retry_seconds": 0.3}


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _count(server: InfluxServer, db: str, measurement: str = "live_status",
           field: str = "load_power") -> int:
    rows = server.query(f'SELECT count("{field}") FROM "{measurement}"', db=db)
    return int(rows[0]["count"]) if rows else 0


def _daemon_settings(base: Settings, sim: SimServer, live: float) -> Settings:
    tesla = TeslaSettings(api_url=sim.base_url, auth_url=sim.auth_url,
                          access_token=Secret("writes-test-token"), max_retries=0)
    return dataclasses.replace(base, tesla=tesla, intervals=IntervalSettings(
        live_seconds=live, site_info_seconds=3600, history_seconds=3600))


def test_hung_influxdb_loses_no_live_sample_and_never_holds_a_poll(
        private_influxd: InfluxServer, tmp_state_dir: Path) -> None:
    """influxd SIGSTOP'd (accepting, never answering) for 4 s while live polls run every
    0.25 s: polling goes on, and after SIGCONT every sample the API served is in InfluxDB."""
    db = private_influxd.create_database("hung")
    config = SimConfig(sites=1, seed=11, clock=SimClock(START, speed=40),
                       installation_date=(START - timedelta(days=1)).date())
    with SimServer(config) as sim:
        base = make_settings(private_influxd.url, db, tmp_state_dir, **FAST)
        daemon = app.build(_daemon_settings(base, sim, live=0.25), clock=sim.clock.now)
        writer = app.write_in_background(daemon, base)
        daemon.schedule()
        daemon.scheduler.start()
        try:
            _wait_for(lambda: _count(private_influxd, db) >= 3, "first live points")
            served_before = sim.requests.count("live_status", 200)
            private_influxd.pause()
            spooled_while_hung = 0
            hung_until = time.monotonic() + 4.0
            while time.monotonic() < hung_until:
                spooled_while_hung = max(spooled_while_hung, writer.spool_points)
                time.sleep(0.1)
            served_during = sim.requests.count("live_status", 200) - served_before
            private_influxd.resume()
            assert served_during >= 8  # ~16 polls in 4 s: none waited for InfluxDB
            assert spooled_while_hung > 0  # the deadline passed: kept on disk, not in memory
            _wait_for(lambda: writer.spool_points == 0 and writer.queued_points == 0,
                      "the spool to drain")
            daemon.scheduler.pause()
            served = sim.requests.count("live_status", 200)
            assert writer.flush(10)
            _wait_for(lambda: _count(private_influxd, db) >= served, "every served sample")
            assert _count(private_influxd, db) == served
        finally:
            daemon.shutdown()
            writer.close()
            daemon.close()


@pytest.fixture
def paused_sink(private_influxd: InfluxServer, tmp_state_dir: Path):
    db = private_influxd.create_database("queue")
    sink = InfluxSink(make_settings(private_influxd.url, db, tmp_state_dir, **FAST),
                      sleep=lambda _s: None)
    assert sink.check_target()
    yield sink, private_influxd, db
    private_influxd.resume()
    sink.close()


def test_queue_overflow_spills_in_order_and_the_newest_revision_wins(paused_sink) -> None:
    sink, server, db = paused_sink
    writer = BackgroundWriter(sink, max_points=4, retry_seconds=0.3,
                              refused_retry_seconds=0.3).start()
    server.pause()
    try:
        results = []
        for revision in range(1, 31):  # the same bucket, revised 30 times, plus a new sample
            results.append(writer.write([f"rev,site_id=1 v={revision}.0 1700000000",
                                         f"new,site_id=1 v={revision}.0 {1700000000 + revision}"]))
        assert all(r.queued + r.spooled == 2 for r in results) and writer.lost_points == 0
        assert sum(r.spooled for r in results) > 0  # the bound was hit: spilled, not dropped
    finally:
        server.resume()
    _wait_for(lambda: writer.flush(0.1) and sink.spool_points == 0 and sink.state == "up",
              "the queue and the spool to drain")
    writer.close()
    assert server.query('SELECT v FROM "rev"', db=db) == [{"time": 1700000000, "v": 30.0}]
    assert _count(server, db, "new", "v") == 30


def test_peak_points_is_the_largest_backlog_while_influxdb_stalls(paused_sink) -> None:
    sink, server, _db = paused_sink
    writer = BackgroundWriter(sink, max_points=100, retry_seconds=0.3,
                              refused_retry_seconds=0.3).start()
    server.pause()
    try:
        for second in range(10):  # the writer holds the first line in flight, the rest queue
            writer.write([f"peak,site_id=1 v=1.0 {1700000000 + second}"])
        assert 9 <= writer.take_peak_points() <= 10
    finally:
        server.resume()
    _wait_for(lambda: writer.flush(0.1) and sink.spool_points == 0 and sink.state == "up",
              "the queue and the spool to drain")
    writer.take_peak_points()  # still counts the backlog queued at the previous call
    assert writer.take_peak_points() == 0  # drained, nothing written since
    writer.write(["peak,site_id=1 v=2.0 1700000100"])
    assert writer.take_peak_points() >= 1
    writer.close()


def test_close_spools_what_is_queued_and_a_restart_replays_it(paused_sink, tmp_state_dir):
    sink, server, db = paused_sink
    writer = BackgroundWriter(sink, max_points=1000, retry_seconds=60,
                              refused_retry_seconds=60).start()
    server.pause()
    for i in range(10):
        writer.write([f"m,site_id=1 v={i}.0 {1700000000 + i}"])
    writer.close(timeout=0.2)  # stopping while a write hangs: nothing may be lost
    server.resume()
    assert sink.spool_points >= 10  # the one in flight may have landed as well (harmless)
    sink.close()
    with InfluxSink(make_settings(server.url, db, tmp_state_dir)) as restarted:
        assert restarted.replay().replayed >= 10
    assert _count(server, db, "m", "v") == 10


def test_refusal_in_the_daemon_keeps_collecting_shows_in_health_and_recovers(
        auth_influxd: InfluxServer, tmp_state_dir: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    db = auth_influxd.create_database(f"d_{tag}")
    token = auth_influxd.create_user(f"dw_{tag}", "dw-secret", write=db)
    user = token.split(":")[0]
    config = SimConfig(sites=1, seed=12, clock=SimClock.fixed(START),
                       installation_date=(START - timedelta(days=1)).date())
    with SimServer(config) as sim:
        base = make_settings(auth_influxd.url, db, tmp_state_dir, token=token, **FAST)
        daemon = app.build(_daemon_settings(base, sim, live=10), clock=sim.clock.now)
        writer = app.write_in_background(daemon, base)
        sends = _count_sends(daemon.collector.sink)
        collector, sites = daemon.collector, daemon.sites
        try:
            auth_influxd.raw_query(f'REVOKE WRITE ON "{db}" FROM "{user}"', method="POST")
            with capture_logs() as logs:
                for _ in range(20):  # polls every 50 ms: far more often than the retries
                    sim.clock.advance(10)
                    collector.poll_live(sites)
                    time.sleep(0.05)
                _wait_for(lambda: writer.flush(0.1), "the queue to be handled")
            kept = writer.spool_points
            assert collector.sink.state == "refused" and kept >= 20  # every poll's points
            assert [e["event"] for e in logs].count("influxdb_refused_writes") == 1
            assert sends[0] < 10  # retried slowly, not once per poll
            assert daemon.health.status() == "influxdb refused"
            daemon.schedule()
            daemon.scheduler.start(paused=True)
            daemon.scheduler.get_job("live:0").func()  # a cycle saves the heartbeat file
            daemon.scheduler.shutdown(wait=False)
            healthy, reason = check_heartbeat(daemon.health.path)
            assert not healthy and "InfluxDB refuses writes (HTTP 403" in reason
            status, body = _healthz(daemon)
            assert status == 503 and body["status"] == "influxdb refused"
            assert body["sink"]["influxdb"] == "refused" and "GRANT WRITE" in body["sink"]["fix"]
            metrics = app.metrics_text(daemon)
            assert 'tesla_energy_influxdb_state{state="refused"} 1' in metrics
            assert 'tesla_energy_influxdb_state{state="down"} 0' in metrics
            assert f"tesla_energy_spool_points {kept}" in metrics
            auth_influxd.raw_query(f'GRANT WRITE ON "{db}" TO "{user}"', method="POST")
            _wait_for(lambda: collector.sink.state == "up" and writer.spool_points == 0,
                      "the retry to replay the spool")
            assert daemon.health.status() == "ok"
            assert _count(auth_influxd, db) == 20
            assert _count(auth_influxd, db) + _count(
                auth_influxd, db, "wall_connector", "wall_connector_power") == kept
        finally:
            writer.close()
            daemon.close()


def _healthz(daemon) -> tuple[int, dict]:
    server = HealthServer(0, daemon.health, lambda: app.metrics_text(daemon),
                          host="127.0.0.1").start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=10):
            raise AssertionError("a refusing InfluxDB must make /healthz fail")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    finally:
        server.stop()


def _count_sends(sink: InfluxSink) -> list[int]:
    """Count the sink's write requests (a spy on the real transport; nothing is faked)."""
    counter = [0]
    real = sink._transport.post_lines
    lock = threading.Lock()

    def counted(*args, **kwargs):
        with lock:
            counter[0] += 1
        return real(*args, **kwargs)

    sink._transport.post_lines = counted  # type: ignore[method-assign]
    return counter
