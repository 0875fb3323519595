"""Health signal: heartbeat file freshness, /healthz and /metrics, the HEALTHCHECK entry."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

from collector.config import load_settings
from collector.errors import ConfigError
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


def _threads_named_like(prefix: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith(prefix))


def test_idle_connections_cannot_pile_up_threads_and_healthz_still_answers(tmp_path):
    """3,000 idle connections once meant 3,007 threads: now at most ``max_connections`` are
    served at once, the rest are closed, and a silent one is closed after ``timeout``."""
    health = Health(tmp_path, stale_after=30)
    health.wrote()
    server = HealthServer(0, health, lambda: "", max_connections=4, timeout=0.5).start()
    threads_before = threading.active_count()
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(60)]
    try:
        time.sleep(0.2)
        assert threading.active_count() - threads_before <= 4
        time.sleep(0.8)  # the four served idle connections time out and are closed
        body = json.loads(urllib.request.urlopen(
            f"http://127.0.0.1:{server.port}/healthz", timeout=5).read())
        assert body["status"] == "ok"
        for conn in idle[:4]:
            conn.settimeout(2)
            assert conn.recv(1) == b""  # closed by the server
    finally:
        for conn in idle:
            conn.close()
        server.stop()


def test_health_endpoint_listens_on_loopback_unless_configured(tmp_path):
    server = HealthServer(0, Health(tmp_path, stale_after=30), lambda: "")
    try:
        assert server.server.server_address[0] == "127.0.0.1"
    finally:
        server.server.server_close()
    assert load_settings(environ={"COLLECTOR_HEALTH_ADDRESS": "0.0.0.0"}
                         ).collector.health_address == "0.0.0.0"
    with pytest.raises(ConfigError, match="COLLECTOR_HEALTH_ADDRESS.*IP address"):
        load_settings(environ={"COLLECTOR_HEALTH_ADDRESS": "everywhere"})
