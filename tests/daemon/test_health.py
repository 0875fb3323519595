"""Health signal: heartbeat file freshness, /healthz and /metrics, the HEALTHCHECK entry."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from collector.health import HEARTBEAT_FILE, Health, HealthServer, check_heartbeat, main


def test_heartbeat_goes_stale_after_three_intervals(tmp_path):
    now = [1000.0]
    health = Health(tmp_path, stale_after=30, clock=lambda: now[0])
    health.wrote()
    assert check_heartbeat(tmp_path / HEARTBEAT_FILE, now=now[0] + 29)[0]
    healthy, reason = check_heartbeat(tmp_path / HEARTBEAT_FILE, now=now[0] + 31)
    assert not healthy and "stale" in reason
    assert main([str(tmp_path)]) == 1  # real time is far past the fake clock


def test_missing_heartbeat_is_unhealthy(tmp_path):
    assert check_heartbeat(tmp_path / HEARTBEAT_FILE) == (
        False, f"no readable heartbeat at {tmp_path / HEARTBEAT_FILE}")


def test_healthz_and_metrics_endpoints(tmp_path):
    now = [5000.0]
    health = Health(tmp_path, stale_after=30, clock=lambda: now[0])
    server = HealthServer(0, health, lambda: "tesla_energy_spool_points 0\n",
                          host="127.0.0.1").start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        health.wrote()
        health.job_done("live:0", True)
        body = json.loads(urllib.request.urlopen(f"{base}/healthz").read())
        assert body["status"] == "ok" and body["jobs"]["live:0"]["failing"] is False
        now[0] += 100
        try:
            urllib.request.urlopen(f"{base}/healthz")
            raise AssertionError("expected 503")
        except urllib.error.HTTPError as exc:
            assert exc.code == 503 and json.loads(exc.read())["status"] == "stale"
        metrics = urllib.request.urlopen(f"{base}/metrics").read().decode()
        assert "tesla_energy_spool_points 0" in metrics
    finally:
        server.stop()
