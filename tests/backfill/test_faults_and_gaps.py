"""Faults cost retries, not data; --missing and the daemon's gap fill fetch only what is missing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from collector.backfill import RunOptions, fill_gaps, format_summary, plan_kind, run_windows
from collector.backfill.windows import day_start
from collector.sim import ENERGY_FIELDS, FaultConfig, FaultRule
from tests.backfill.conftest import LA, requested_days, stored_by_day

pytestmark = pytest.mark.integration

# One request at a time keeps the simulator's every-n-th fault counters deterministic (with
# several in flight, one window's retries can keep landing on the faulty slots).
FAST_RETRY = RunOptions(concurrency=1, retry_delay_seconds=0.01)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _assert_exact(sim, influxd, db, site_id, days) -> None:
    stored = stored_by_day(influxd, db, site_id, LA)
    assert sorted(stored) == sorted(days)
    for day in days:
        truth = sim.energy_rows(site_id, day)
        assert len(stored[day]) == len(truth), day
        for name in ENERGY_FIELDS:
            assert sum(r[name] for r in stored[day]) == sum(t.get(name, 0) for t in truth)


@pytest.mark.parametrize("sim", [1.0], indirect=True)  # rate-limit windows need a running clock
def test_429_5xx_and_malformed_json_cost_retries_not_data(run, sim, influxd, influx_db):
    site = sim.site_ids[0]
    sim.set_faults(FaultConfig(
        rate_limit=6, rate_window_seconds=1.0,  # 429 with Retry-After: 1 (reached even on a slow,
        # loaded machine: 6 requests in a second)
        error=FaultRule(every=4), malformed=FaultRule(every=5), truncated=FaultRule(every=7),
        endpoints=frozenset({"calendar_history"})))
    first, last = date(2024, 7, 1), date(2024, 7, 20)
    summary = run(first, last, options=FAST_RETRY)
    assert summary.ok, summary
    stats = summary.get(site, "energy")
    faulted = [e for e in sim.requests.entries("calendar_history")
               if e.fault and e.query["end_date"].startswith("2024-07")]
    assert {"rate_limit", "error", "malformed", "truncated"} <= {e.fault for e in faulted}
    assert stats.retries == len(faulted)  # every fault cost exactly one retry
    assert stats.failed == 0 and stats.days == 20
    _assert_exact(sim, influxd, influx_db, site, _days(first, last))


def test_a_window_that_keeps_failing_is_reported_not_written(client, sink, sim, contexts, now,
                                                             influxd, influx_db):
    site = contexts[sim.site_ids[0]]
    sim.set_faults(FaultConfig(malformed=FaultRule(every=1),
                               endpoints=frozenset({"calendar_history"})))
    windows = plan_kind(site.site_id, "energy", date(2024, 7, 2), date(2024, 7, 2), LA)
    summary = run_windows(client, sink, [site], windows, options=FAST_RETRY, now=now)
    stats = summary.get(site.site_id, "energy")
    assert (stats.failed, stats.done, stats.requests, stats.retries) == (1, 0, 3, 2)
    assert "not valid JSON" in stats.failures[0] and not summary.ok
    assert "failed window" in format_summary(summary)[-2]
    assert stored_by_day(influxd, influx_db, site.site_id, LA) == {}


def _delete(influxd, db, start, end) -> None:
    influxd.raw_query(f"DELETE FROM energy_history WHERE time >= {int(start.timestamp())}s "
                      f"AND time < {int(end.timestamp())}s", db=db, method="POST")


def _punch_holes(influxd, db) -> None:
    """Remove all of 2024-11-15 and the afternoon of 2024-11-20 (local)."""
    _delete(influxd, db, day_start(date(2024, 11, 15), LA), day_start(date(2024, 11, 16), LA))
    noon = day_start(date(2024, 11, 20), LA) + timedelta(hours=12)
    _delete(influxd, db, noon, day_start(date(2024, 11, 21), LA))


TODAY, YESTERDAY = date(2024, 12, 1), date(2024, 11, 30)
EXPECTED = {date(2024, 11, 15), date(2024, 11, 20), YESTERDAY, TODAY}


def test_missing_fetches_only_missing_days_plus_today_and_yesterday(run, sim, influxd,
                                                                    influx_db):
    site = sim.site_ids[0]
    assert run(date(2024, 11, 10), None).ok
    _punch_holes(influxd, influx_db)
    sim.requests.clear()
    summary = run(date(2024, 11, 10), None, missing=True)
    assert summary.ok
    assert set(requested_days(sim, site, LA)) == EXPECTED  # site_info names the zone: no probe
    assert summary.get(site, "energy").days == len(EXPECTED)
    _assert_exact(sim, influxd, influx_db, site, _days(date(2024, 11, 10), TODAY))


def test_gap_fill_for_the_daemon(client, sink, sim, influxd, influx_db, now, run):
    site = sim.site_ids[0]
    assert run(date(2024, 11, 10), None).ok
    _punch_holes(influxd, influx_db)
    sim.requests.clear()
    summary = fill_gaps(client, sink, [site], date(2024, 11, 10), now=now)
    assert summary.ok
    assert set(requested_days(sim, site, LA)) == EXPECTED
    _assert_exact(sim, influxd, influx_db, site, _days(date(2024, 11, 10), TODAY))

    sim.requests.clear()  # since=None: from the newest stored day on
    assert fill_gaps(client, sink, [site], None, now=now).ok
    assert set(requested_days(sim, site, LA)) == {YESTERDAY, TODAY}


def test_recent_history_for_the_daemon_refreshes_two_days_and_raises_on_failure(
        client, sink, sim, settings, now, influxd, influx_db):
    from collector.backfill import RecentHistory
    from collector.errors import CollectorError

    site = sim.site_ids[0]
    history = RecentHistory(client, sink, settings, now=now, options=FAST_RETRY)
    summary = history.refresh_recent(site)
    assert set(requested_days(sim, site, LA)) == {YESTERDAY, TODAY}
    assert summary.get(site, "energy").days == 2 and summary.get(site, "backup").requests == 1
    assert sorted(stored_by_day(influxd, influx_db, site, LA)) == [YESTERDAY, TODAY]

    sim.set_faults(FaultConfig(malformed=FaultRule(every=1),
                               endpoints=frozenset({"calendar_history"})))
    with pytest.raises(CollectorError, match="window"):
        history.refresh_recent(site)  # the site context is cached
