"""The hard stop at ``COLLECTOR_API_BUDGET``: once the month's billable requests reach the cap
((budget + credit) / price) the daemon sends no Fleet API request until the next UTC month,
says so once, and health and ``/metrics`` show it. The clock is injected (a month passes in
one assignment); the simulator is the Fleet API, the sink a real influxd."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from structlog.testing import capture_logs

from collector import app
from collector.budget import request_cap
from collector.config import ApiSettings
from collector.errors import BudgetExhausted
from collector.health import Health, check_heartbeat
from collector.jobs import Collector, Daemon, Site
from collector.sink import InfluxSink
from collector.source import build_client
from tests.control.conftest import logged
from tests.daemon.test_daemon import START, daemon_settings, sim  # noqa: F401

pytestmark = pytest.mark.integration
CAP = 9  # (0.018 USD budget + no credit) / 0.002 USD per request


def sent(collector: Collector) -> int:
    return sum(s.requests for s in collector.client.metrics.totals().values())


def test_the_daemon_stops_at_the_cap_and_resumes_next_month(sim, influx_settings):  # noqa: F811
    settings = dataclasses.replace(daemon_settings(influx_settings, sim),
                                   api=ApiSettings(budget=0.018, monthly_credit=0.0))
    assert request_cap(settings) == CAP
    now = [START.timestamp() + 60]
    client, sink = build_client(settings), InfluxSink(settings)
    collector = Collector(client, sink, settings, clock=lambda: now[0])
    sites = [Site(site_id, f"Site {site_id}") for site_id in sim.site_ids]  # 2 sites
    health = Health(settings.collector.state_dir, 30, clock=lambda: now[0])
    health.budget_state = collector.bill.state
    daemon = Daemon(collector, sites, settings, health)
    with capture_logs() as logs:
        run_month(sim, collector, daemon, health, client, sites, now)
    events = [entry["event"] for entry in logs]
    assert sum("COLLECTOR_API_BUDGET reached" in e for e in events) == 1
    assert any("Fleet API requests resume" in e for e in events)


def run_month(server, collector, daemon, health, client, sites, now) -> None:
    try:
        for _ in range(4):
            collector.poll_live(sites)  # 8 requests
        assert not collector.bill.paused()
        daemon._guarded("site_info:0", collector.snapshot_site_info, sites)()  # 9th, then stop
        assert sent(collector) == CAP == logged(server, "site_info", 1) + logged(server,
                                                                             "live_status", 8)
        assert collector.bill.paused() and health.jobs["site_info:0"]["failing"] is False
        for job in (collector.poll_live, collector.snapshot_site_info, collector.refresh_history):
            job(sites)
        with pytest.raises(BudgetExhausted, match="paused until 2024-"):
            client.live_status(sites[0].site_id)  # the client's own gate, for any caller
        assert sent(collector) == CAP
        assert health.status() == "ok" and not health.is_stale()  # paused on purpose
        now[0] += 3600  # long past 3 live intervals without a write
        health.save()
        healthy, reason = check_heartbeat(health.path, now=now[0])
        assert healthy and "COLLECTOR_API_BUDGET reached" in reason
        text = app.metrics_text(daemon)
        assert "tesla_energy_api_budget_paused 1" in text
        assert f"tesla_energy_api_budget_requests_month {CAP}" in text
        assert f"tesla_energy_api_billable_month {CAP}" in text

        start = datetime.fromtimestamp(now[0], UTC)
        nxt = datetime(start.year + (start.month == 12), start.month % 12 + 1, 1, tzinfo=UTC)
        now[0] = nxt.timestamp() + 1  # a new UTC month
        assert not collector.bill.paused()
        collector.poll_live(sites)  # the sample may be old for this clock; it is requested
        assert sent(collector) == CAP + 2 and collector.bill.requests == 2
        assert "tesla_energy_api_budget_paused 0" in app.metrics_text(daemon)
    finally:
        daemon.close()
