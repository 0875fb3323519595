"""Backfill against the simulator into a real influxd: exact values, DST days, idempotence."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from collector.backfill.windows import day_start
from collector.sim import ENERGY_FIELDS
from tests.backfill.conftest import ADELAIDE, LA, requested_days, stored_by_day

pytestmark = pytest.mark.integration


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _truth_sums(sim, site_id: int, day: date) -> dict[str, int]:
    rows = sim.energy_rows(site_id, day) or []
    return {name: sum(r.get(name, 0) for r in rows) for name in ENERGY_FIELDS}


def test_multi_month_import_equals_the_simulator_exactly(run, sim, influxd, influx_db):
    site = sim.site_ids[0]
    first, last = date(2024, 2, 20), date(2024, 4, 30)
    summary = run(first, last)
    assert summary.ok, summary
    stats = summary.get(site, "energy")
    assert (stats.days, stats.failed, stats.skipped) == (71, 0, 0)

    stored = stored_by_day(influxd, influx_db, site, LA)
    assert sorted(stored) == _days(first, last)
    for day in _days(first, last):
        truth_rows = sim.energy_rows(site, day)
        assert len(stored[day]) == len(truth_rows), day
        sums = {name: sum(r[name] for r in stored[day]) for name in ENERGY_FIELDS}
        assert sums == _truth_sums(sim, site, day), day
    assert stats.buckets == sum(len(v) for v in stored.values())


def test_every_field_is_a_float_and_omitted_zeros_are_stored_as_0(run, sim, influxd, influx_db):
    site = sim.site_ids[0]
    run(date(2024, 6, 1), date(2024, 6, 1))
    types = influxd.field_types(influx_db, "energy_history")
    assert set(ENERGY_FIELDS) <= set(types) and set(types.values()) == {"float"}
    stored = stored_by_day(influxd, influx_db, site, LA)[date(2024, 6, 1)]
    night = stored[0]  # local midnight: no solar, the API omitted the zero total
    assert "total_solar_generation" not in sim.energy_rows(site, date(2024, 6, 1))[0]
    assert night["total_solar_generation"] == night["solar_energy_exported"] == 0.0


@pytest.mark.parametrize(("site_index", "zone", "day", "buckets"), [
    (0, LA, date(2024, 3, 10), 276),        # spring forward: 23 h
    (0, LA, date(2024, 11, 3), 300),        # fall back: 25 h
    (0, LA, date(2024, 11, 4), 288),
    (1, ADELAIDE, date(2024, 4, 7), 300),   # half-hour zone, fall back
    (1, ADELAIDE, date(2024, 10, 6), 276),  # half-hour zone, spring forward
])
def test_dst_days_have_the_right_number_of_buckets_at_their_utc_start(
        run, sim, influxd, influx_db, site_index, zone, day, buckets):
    site = sim.site_ids[site_index]
    summary = run(day, day, sites=[site])
    assert summary.ok and summary.get(site, "energy").buckets == buckets
    stored = stored_by_day(influxd, influx_db, site, zone)
    assert list(stored) == [day] and len(stored[day]) == buckets
    times = [r["time"] for r in stored[day]]
    assert times[0] == int(day_start(day, zone).timestamp())  # first bucket at local midnight
    assert all(b - a == 300 for a, b in zip(times, times[1:], strict=False))  # UTC, no overlap


def test_the_zone_comes_from_the_history_reply_when_site_info_has_none(contexts, sim):
    adelaide = contexts[sim.site_ids[1]]
    assert sim.site_info(adelaide.site_id)["installation_time_zone"] == ""
    assert (adelaide.zone_name, adelaide.zone_source) == ("Australia/Adelaide", "history")


def test_a_second_run_writes_no_new_series_and_changes_no_value(run, sim, influxd, influx_db,
                                                                now):
    site = sim.site_ids[0]
    kinds = ("energy", "backup", "charge")
    first = run(date(2024, 10, 25), date(2024, 11, 5), kinds=kinds)
    assert first.ok

    def snapshot() -> tuple:
        series = influxd.query("SHOW SERIES", db=influx_db)
        points = {m: influxd.query(f"SELECT * FROM {m}", db=influx_db)
                  for m in ("energy_history", "backup_event", "charge_session")}
        return series, points

    before = snapshot()
    sim.requests.clear()
    second = run(date(2024, 10, 25), date(2024, 11, 5), kinds=kinds)
    assert second.ok
    # site_info names the zone: no probe request, exactly one request per day
    assert sorted(requested_days(sim, site, LA)) == _days(date(2024, 10, 25), date(2024, 11, 5))
    assert snapshot() == before
    assert second.total("buckets") == first.total("buckets") > 0


def test_backup_events_and_charge_sessions_match_the_simulator(run, sim, influxd, influx_db):
    site = sim.site_ids[0]
    summary = run(date(2024, 1, 1), date(2024, 11, 30), kinds=("backup", "charge"))
    assert summary.ok
    start = day_start(date(2024, 1, 1), LA).timestamp()
    end = day_start(date(2024, 12, 1), LA).timestamp() - 1
    outages = sim.backup_events(site, start, end)
    events = influxd.query(f"SELECT * FROM backup_event WHERE site_id = '{site}'", db=influx_db)
    assert outages, "the simulator should have seeded outages in 11 months"
    assert [e["time"] for e in events] == [int(o.start) for o in outages]
    assert [e["duration_seconds"] for e in events] == [o.duration_ms / 1000 for o in outages]
    sessions = sim.charge_sessions(site, start, end)
    stored = influxd.query(f"SELECT * FROM charge_session WHERE site_id = '{site}'", db=influx_db)
    assert sessions and len(stored) == len(sessions) == summary.get(site, "charge").sessions
    assert [(r["time"], r["energy_added_wh"], r["duration_seconds"], r["din"]) for r in stored] == [
        (s["charge_start_time"]["seconds"], float(s["energy_added_wh"]),
         float(s["charge_duration"]["seconds"]), s["din"]) for s in sessions]
    backup_windows = summary.get(site, "backup")
    assert (backup_windows.requests, backup_windows.events) == (1, len(outages))


def test_today_is_imported_up_to_now(run, sim, influxd, influx_db, now):
    site = sim.site_ids[0]
    today = now().astimezone(LA).date()
    run(today, None)
    stored = stored_by_day(influxd, influx_db, site, LA)
    assert list(stored) == [today]
    assert len(stored[today]) == len(sim.energy_rows(site, today)) == 144  # 00:00-12:00 local
    assert datetime.fromtimestamp(stored[today][-1]["time"], UTC) < now()
