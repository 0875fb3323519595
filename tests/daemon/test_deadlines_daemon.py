"""The daemon under hung and flapping endpoints (issue 11 parts 2 and 9): a prompt, clean
shutdown while a job sleeps on a Retry-After; a job that never completes makes ``/healthz``
fail naming it; a flapping live endpoint gap-fills at most once per history interval.
The Fleet API is faked at the HTTP boundary (``httpx.MockTransport``, fixture payloads)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from collector import app
from collector.config import CollectorSettings, IntervalSettings, Secret, Settings, TeslaSettings
from collector.errors import CollectorError
from collector.health import Health, HealthServer
from collector.jobs import Daemon, Site
from collector.source import FleetClient, TokenManager
from tests.support.fleet import load_payload

SITE = 2252179231
LIVE_PATH = f"/api/1/energy_sites/{SITE}/live_status"


def _daemon(tmp_path: Path, handler, *, live: float = 1.0, history: float = 3600.0) -> Daemon:
    settings = Settings(
        tesla=TeslaSettings(api_url="https://fleet.test", access_token=Secret("t-1"),
                            max_retries=0),
        intervals=IntervalSettings(live_seconds=live, history_seconds=history),
        collector=CollectorSettings(state_dir=tmp_path))
    transport = httpx.MockTransport(handler)
    tokens = TokenManager(auth_url="https://fleet.test/oauth2/v3/token", client_id="",
                          access_token="t-1", http=httpx.Client(transport=transport))
    client = FleetClient(settings.tesla.api_url, tokens, transport=transport, max_retries=0)
    return app.build(settings, dry_run=True, client=client, sites=[Site(SITE, "Home")])


def _add_live_job(daemon: Daemon) -> None:
    job = daemon._guarded("live:0", daemon.collector.poll_live, daemon.sites)
    daemon._add("live:0", daemon.settings.intervals.live_seconds, job, datetime.now(UTC),
                executor="live")


def _wait_for(condition, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.02)


def test_shutdown_ends_a_retry_after_sleep_of_60_s_promptly_and_cleanly(tmp_path, caplog):
    asked = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        asked.set()
        return httpx.Response(429, headers={"Retry-After": "60"},
                              json={"response": None, "error": "rate limited"})

    daemon = _daemon(tmp_path, handler)
    daemon.collector.client.max_retry_wait = 120.0  # the live job sleeps on the Retry-After
    daemon.collector.client.max_retries = 1
    _add_live_job(daemon)
    daemon.scheduler.start()
    assert asked.wait(10)
    time.sleep(0.2)  # the job is in its 60 s wait now
    started = time.monotonic()
    daemon.shutdown()
    took = time.monotonic() - started
    assert took < 30, "shutdown waited out the Retry-After"
    assert not daemon.scheduler.running
    live = daemon.health.jobs["live:0"]
    assert live["failing"] and "not retried: the collector is stopping" in live["error"]
    logged = [(r.getMessage(), r.exc_info) for r in caplog.records]
    assert not [m for m, exc in logged if exc or "RuntimeError" in m], logged
    print(f"shutdown took {took:.2f} s")  # a figure, not an assertion on speed (-s shows it)


def test_hung_live_job_makes_healthz_fail_naming_it(tmp_path):
    release, asked = threading.Event(), threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        asked.set()
        release.wait(30)  # a live_status that never answers (until the test ends)
        return httpx.Response(200, json=load_payload("live_status_pypowerwall"))

    now = [1_000_000.0]
    daemon = _daemon(tmp_path, handler)
    daemon.health = Health(tmp_path, 30.0, clock=lambda: now[0])
    daemon.health.wrote()  # InfluxDB is fine: only the hung job can fail health
    _add_live_job(daemon)
    server = HealthServer(0, daemon.health, lambda: "").start()
    daemon.scheduler.start()
    try:
        assert asked.wait(10)
        now[0] += 3.0  # within 3 intervals (1 s + jitter): not hung yet
        assert daemon.health.status() == "ok"
        now[0] += 1.0
        daemon.health.last_write = now[0]
        expected = "hung: job live:0 completed no cycle within 3 intervals"
        assert daemon.health.status() == expected
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
        assert info.value.code == 503
        body = json.loads(info.value.read())
        assert body["status"] == expected and body["hung"] == ["live:0"]
    finally:
        release.set()
        server.stop()
        daemon.shutdown()


def test_health_hung_counts_completions_and_postponements():
    now = [0.0]
    health = Health(Path("/nonexistent"), 30.0, clock=lambda: now[0])
    health.expect("live:0", 10.0)
    health.expect("history:0", 900.0)
    now[0] = 25.0
    health.job_done("live:0", False, "live_status: HTTP 503")  # a failed cycle completed
    now[0] = 50.0
    assert health.hung() == []
    health.postponed("live:0", 600.0)  # a Retry-After of 10 minutes
    now[0] = 600.0
    assert health.hung() == []
    now[0] = 2701.0  # history completed nothing for 3 x 900 s; live is due by 680 s
    assert health.hung() == ["history:0", "live:0"]


def test_flapping_live_endpoint_gap_fills_at_most_once_per_history_interval(tmp_path):
    calls = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        calls[0] += 1
        if request.url.path == LIVE_PATH and calls[0] % 2:
            return httpx.Response(503, json={"response": None, "error": "upstream"})
        return httpx.Response(200, json=load_payload("live_status_pypowerwall"))

    daemon = _daemon(tmp_path, handler, history=3600.0)
    fills: list[list[int]] = []
    daemon.gap_fill = lambda sites: fills.append([s.site_id for s in sites])
    daemon.scheduler.start()
    try:
        def flap(times: int) -> None:
            for _ in range(times):
                with contextlib.suppress(CollectorError):
                    daemon.collector.poll_live(daemon.sites)

        flap(20)  # 10 recoveries
        _wait_for(lambda: len(fills) == 1)
        flap(20)  # 10 more within the same history interval
        job = daemon.scheduler.get_job("gapfill")
        assert fills == [[SITE]]
        assert job is not None
        assert job.next_run_time >= datetime.now(UTC) + timedelta(seconds=3500)
    finally:
        daemon.shutdown()
