"""The daemon under ``COLLECTOR_API_BUDGET``: it schedules the planned intervals, says so once,
and a month of its scheduler (every fire time of every job over 31 days) stays within the
budget. The simulator is the Fleet API; no real minutes pass."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from collector import app
from collector.config import ApiSettings
from tests.daemon.test_daemon import daemon_settings, sim  # noqa: F401

REQUESTS_PER_FIRE = {"live": 1, "site_info": 1, "history": 4}  # per site of the job's group


def fires_in(trigger, start: datetime, end: datetime) -> int:
    count, previous, now = 0, None, start
    while True:
        when = trigger.get_next_fire_time(previous, now)
        if when is None or when >= end:
            return count
        count, previous, now = count + 1, when, when


def test_a_month_of_the_scheduled_daemon_stays_within_a_10_usd_budget(sim, influx_settings,  # noqa: F811
                                                                     capsys):
    settings = dataclasses.replace(daemon_settings(influx_settings, sim),
                                   api=ApiSettings(budget=10.0))
    daemon = app.build(settings, clock=sim.clock.now)
    # 2 sites: (10 + 10) / 0.002 / 32 / 2 = 156.25 requests/day per site; live 3600 s (24),
    # site_info 86400 s (1), history 4 * 86400 / (156.25 - 25) = 2633.1 -> 2634 s
    assert (daemon.settings.intervals.live_seconds, daemon.settings.intervals.site_info_seconds,
            daemon.settings.intervals.history_seconds) == (3600.0, 86400.0, 2634.0)
    daemon.schedule()
    start = datetime.now(UTC)
    requests = 0
    for job in daemon.scheduler.get_jobs():
        kind = job.id.split(":")[0]
        if kind in REQUESTS_PER_FIRE:
            fires = 1 + fires_in(job.trigger, job.next_run_time, start + timedelta(days=31))
            requests += fires * REQUESTS_PER_FIRE[kind] * len(daemon.sites)
    assert requests * 0.002 - 10 <= 10, requests
    assert requests > 9000  # the budget is used, not wasted
    daemon.close()


def test_billable_requests_and_the_month_to_date_cost_reach_influx_and_metrics(
        sim, influxd, influx_db, influx_settings):  # noqa: F811
    daemon = app.build(daemon_settings(influx_settings, sim), clock=sim.clock.now)
    try:
        app.run_once(daemon)
        sent = sum(s.requests for s in daemon.collector.client.metrics.totals().values())
        daemon.collector.write_metrics()
        rows = influxd.query('SELECT "billable_month", "api_cost_month_usd" FROM "collector" '
                             "WHERE \"endpoint\" = 'bill'", db=influx_db)
        billed = sum(r["billable"] for r in influxd.query(
            'SELECT "billable" FROM "collector" WHERE "billable" >= 0', db=influx_db))
        text = app.metrics_text(daemon)
    finally:
        daemon.close()
    assert sent > 0 and billed == sent  # the simulator answers everything with 200
    assert rows[-1]["billable_month"] == billed
    assert rows[-1]["api_cost_month_usd"] == billed * 0.002
    assert f"tesla_energy_api_billable_month {billed}" in text
    assert f"tesla_energy_api_cost_month_usd {billed * 0.002:.4f}" in text
