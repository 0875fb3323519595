"""``tesla-energy backfill`` against hostile history replies (issue 11, cases 9 and 10): absurd
values and dates never land in InfluxDB, and a past day without buckets, a day whose every
bucket was skipped, and backup events that went missing end in a summary that says so, exit 1.

A ``RewritingProxy`` in front of the simulator alters single replies; client, transform, sink
and the suite's influxd are the real product.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from collector.backfill import RunOptions, format_summary
from collector.backfill.windows import day_start
from collector.cli import main
from collector.sim import FaultConfig, FaultRule
from tests.backfill.conftest import LA
from tests.support.rewrite import RewritingProxy
from tests.support.settings import set_cli_env

pytestmark = pytest.mark.integration

ABSURD_DATES = {10: "1900-01-01T00:00:00+00:00", 11: "1969-12-31T23:00:00+00:00",
                12: "2099-06-01T00:00:00+00:00"}


def hostile_energy(response: dict, query: dict[str, str]) -> dict:
    """2024-05-01: +-1e308 buckets and buckets dated 1900, 1969, 2099; 05-02: no time_series;
    05-03: every bucket absurd; other days untouched."""
    if query.get("kind") != "energy":
        return response
    day, rows = query.get("end_date", "")[:10], response.get("time_series") or []
    if day == "2024-05-01":
        rows[3]["grid_energy_imported"] = 1e308
        rows[7]["total_home_usage"] = -1e308
        for index, stamp in ABSURD_DATES.items():
            rows[index]["timestamp"] = stamp
    elif day == "2024-05-02":
        response.pop("time_series", None)
    elif day == "2024-05-03":
        for row in rows:
            row["total_home_usage"] = 1e308
    return response


def vanishing_events(response: dict, query: dict[str, str]) -> dict:
    if query.get("kind") == "backup":
        response["total_events"] = len(response.get("events") or []) + 1
        response["events"] = None
    return hostile_energy(response, query)


@pytest.fixture
def proxy(sim) -> Iterator[RewritingProxy]:
    with RewritingProxy(sim.base_url) as server:
        server.rewrite("calendar_history", vanishing_events)
        yield server


@pytest.fixture
def env(monkeypatch, proxy, influxd, influx_db, tmp_state_dir) -> None:
    set_cli_env(monkeypatch, proxy.url, influxd.url, influx_db, tmp_state_dir)


def _per_day(influxd, db: str, site: int) -> dict[str, int]:
    rows = influxd.query(
        f"SELECT count(total_home_usage) FROM energy_history WHERE site_id = '{site}' "
        "AND time >= '2024-05-01T07:00:00Z' AND time < '2024-05-05T07:00:00Z' "
        "GROUP BY time(1d, 7h) fill(none)", db=db, epoch="")
    return {row["time"][:10]: row["count"] for row in rows}


def test_absurd_values_never_land_and_incomplete_windows_fail(env, sim, influxd, influx_db,
                                                               capsys):
    site = sim.site_ids[0]  # America/Los_Angeles: a local day starts at 07:00 UTC in May
    code = main(["backfill", "--site", str(site), "--start", "2024-05-01", "--end",
                 "2024-05-04", "--kind", "energy,backup"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "backfill finished with 3 failed window(s)" in out
    assert (f"failed: site {site} energy 2024-05-02: calendar_history: no buckets for past day "
            "2024-05-02 (time_series missing)") in out
    assert (f"failed: site {site} energy 2024-05-03: calendar_history: all 288 record(s) of the "
            "reply were skipped; first: total_home_usage=1e+308 is outside the plausible energy "
            "per bucket range 0..833333 Wh") in out
    assert "the backup reply counts 1 event(s) but lists 0; events went missing" in out
    assert f"{site:>16} energy         2      571" in out  # 05-01 (283 of 288) + 05-04
    assert _per_day(influxd, influx_db, site) == {"2024-05-01": 283, "2024-05-04": 288}
    (extremes,) = influxd.query(
        "SELECT max(grid_energy_imported) AS high, min(total_home_usage) AS low "
        "FROM energy_history", db=influx_db)
    assert extremes["high"] < 1e6 and extremes["low"] >= 0
    outside = influxd.query("SELECT count(total_home_usage) FROM energy_history WHERE "
                            "time < '2023-12-31T00:00:00Z' OR time > '2025-01-01T00:00:00Z'",
                            db=influx_db)
    assert outside == []


def test_the_summary_counts_dropped_records_of_a_complete_run(env, sim, influxd, influx_db,
                                                              capsys, proxy):
    proxy.rewrite("calendar_history", hostile_energy)
    site = sim.site_ids[0]
    code = main(["backfill", "--site", str(site), "--start", "2024-05-01", "--end",
                 "2024-05-01", "--kind", "energy"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[-1].startswith(
        "backfill complete; 5 record(s) were dropped as malformed or implausible")
    assert _per_day(influxd, influx_db, site) == {"2024-05-01": 283}


def test_the_simulator_s_missing_fields_fault_ends_in_a_failed_backup_window(run, sim, influxd,
                                                                           influx_db):
    """The simulator's own ``missing`` fault drops every other key of a reply object: a backup
    reply loses ``events`` and keeps ``total_events``. The window fails; nothing is called
    complete, nothing is written."""
    site = sim.site_ids[0]
    start, end = date(2024, 1, 1), date(2024, 11, 20)
    assert sim.backup_events(site, day_start(start, LA).timestamp(),
                             day_start(end, LA).timestamp())  # there are events to lose
    sim.set_faults(FaultConfig(missing=FaultRule(every=1),
                               endpoints=frozenset({"calendar_history"})))
    summary = run(start, end, kinds=("backup",), options=RunOptions(retry_delay_seconds=0.01))
    stats = summary.get(site, "backup")
    assert not summary.ok and (stats.failed, stats.done, stats.requests) == (1, 0, 3)
    assert "events went missing" in stats.failures[0]
    assert "failed window" in format_summary(summary)[-2]
    assert influxd.query("SELECT count(*) FROM backup_event", db=influx_db) == []
