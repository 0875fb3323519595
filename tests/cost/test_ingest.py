"""Cost at ingest against the simulator and a real influxd: one ``energy_cost`` point per
energy bucket equal to the hand computation (``oracle``), tariff snapshots, a mid-month
tariff change, charges and charge sessions, and the daemon's jobs."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from collector.backfill import RecentHistory
from collector.backfill.windows import day_start
from collector.cost.store import declared_version, version_frame
from collector.cost.timeline import SNAPSHOT, TariffVersion
from collector.jobs import Collector, Site
from tests.backfill.test_resume import CrashingSink
from tests.cost import oracle
from tests.cost.support import at, three_season

pytestmark = pytest.mark.integration

TOLERANCE = 1e-9
MONEY = ("buy_price", "sell_price", "import_cost", "export_credit", "net_cost",
         "baseline_cost", "savings")
DAYS = (date(2024, 3, 10), date(2024, 7, 16), date(2024, 11, 3))  # spring, summer, fall back


def stored(influxd, db: str, measurement: str, where: str = "") -> list[dict]:
    return influxd.query(f"SELECT * FROM {measurement}{where}", db=db)


def test_every_bucket_gets_one_cost_point_equal_to_the_hand_computation(
        run, sim, site, influxd, influx_db):
    for day in DAYS:
        assert run(day, day).ok
    truth = [oracle.bucket(r) for day in DAYS for r in sim.energy_rows(site, day)]
    points = stored(influxd, influx_db, "energy_cost")
    history = stored(influxd, influx_db, "energy_history")
    assert len(truth) == len(points) == len(history) == 276 + 288 + 300
    assert [p["time"] for p in points] == [t["time"] for t in truth] == [
        h["time"] for h in history]
    for point, expected in zip(points, truth, strict=True):
        for name in MONEY:
            assert abs(point[name] - expected[name]) <= TOLERANCE, (point["time"], name)
        assert (point["currency"], point["site_id"]) == ("USD", str(site))
    types = influxd.field_types(influx_db, "energy_cost")
    assert types["tariff_sha256"] == "string" and types["net_cost"] == "float"


@pytest.mark.parametrize("sim", ["v1"], indirect=True)
def test_a_site_reporting_a_v1_tariff_is_priced_the_same(run, sim, site, influxd, influx_db):
    assert "tariff_content" in sim.site_info(site) and "tariff_content_v2" not in str(
        sim.site_info(site))
    day = date(2024, 7, 16)
    assert run(day, day).ok
    truth = [oracle.bucket(r) for r in sim.energy_rows(site, day)]
    points = stored(influxd, influx_db, "energy_cost")
    assert len(points) == len(truth) == 288
    for point, expected in zip(points, truth, strict=True):
        assert abs(point["import_cost"] - expected["import_cost"]) <= TOLERANCE
        assert abs(point["export_credit"] - expected["export_credit"]) <= TOLERANCE
    (version,) = stored(influxd, influx_db, "tariff_version")
    assert version["name"] == "Three season"


def test_a_second_import_changes_nothing_and_records_the_tariff_once(
        run, sim, site, influxd, influx_db):
    day = date(2024, 7, 16)
    assert run(day, day).ok
    before = (stored(influxd, influx_db, "energy_cost"),
              stored(influxd, influx_db, "energy_cost_charges"))
    assert run(day, day).ok
    assert (stored(influxd, influx_db, "energy_cost"),
            stored(influxd, influx_db, "energy_cost_charges")) == before
    (version,) = stored(influxd, influx_db, "tariff_version")
    assert (version["source"], version["name"], version["currency"]) == (
        "site_info", "Three season", "USD")
    assert version["time"] == int(sim.clock.now())  # first seen at the import


def test_a_tariff_change_mid_month_prices_each_side_with_its_own_version(
        run, sim, site, sink, influxd, influx_db):
    dearer = three_season()
    dearer["energy_charges"]["Summer"]["rates"]["ON_PEAK"] = 0.65
    change = at("2024-07-16 12:00", "America/Los_Angeles")
    old = TariffVersion(int(at("2024-07-01 00:00", "America/Los_Angeles").timestamp()),
                        SNAPSHOT, three_season())
    new = TariffVersion(int(change.timestamp()), SNAPSHOT, dearer)
    sink.write([version_frame(old, site), version_frame(new, site)])
    assert run(date(2024, 7, 15), date(2024, 7, 16)).ok
    points = stored(influxd, influx_db, "energy_cost")
    before = [p for p in points if p["time"] < change.timestamp()]
    after = [p for p in points if p["time"] >= change.timestamp()]
    assert len(before) == 288 + 144 and len(after) == 144
    assert {p["tariff_sha256"] for p in before} == {old.sha256}
    assert {p["tariff_sha256"] for p in after} == {new.sha256}
    peak = int(at("2024-07-16 16:00", "America/Los_Angeles").timestamp())
    assert [p["buy_price"] for p in points if p["time"] == peak] == [0.65]
    morning = int(at("2024-07-15 16:00", "America/Los_Angeles").timestamp())
    assert [p["buy_price"] for p in points if p["time"] == morning] == [0.55]


def test_daily_and_demand_charges_are_stored_for_the_imported_month(
        run, sim, site, influxd, influx_db):
    assert run(date(2024, 7, 15), date(2024, 7, 16)).ok
    daily = stored(influxd, influx_db, "energy_cost_charges", " WHERE charge = 'daily'")
    assert [d["time"] for d in daily] == [int(day_start(date(2024, 7, d), oracle.ZONE)
                                              .timestamp()) for d in (15, 16)]
    assert {d["amount"] for d in daily} == {0.75}
    demand = stored(influxd, influx_db, "energy_cost_charges", " WHERE charge = 'demand'")
    assert sorted(d["period"] for d in demand) == ["OFF_PEAK", "ON_PEAK"]
    rows = [r for day in (date(2024, 7, 15), date(2024, 7, 16)) for r in sim.energy_rows(site, day)]
    for point in demand:
        peak = max(r.get("grid_energy_imported", 0) * 12 for r in rows
                   if oracle.period(datetime.fromisoformat(r["timestamp"]))[1]
                   == point["period"])
        rate = {"ON_PEAK": 10.0, "OFF_PEAK": 2.0}[point["period"]]
        assert point["time"] == int(day_start(date(2024, 7, 1), oracle.ZONE).timestamp())
        assert point["peak_power_w"] == peak
        assert abs(point["amount"] - peak / 1000 * rate) <= TOLERANCE


def test_charge_sessions_get_their_cost_and_solar_share(run, sim, site, influxd, influx_db):
    first, last = date(2024, 7, 1), date(2024, 7, 31)
    assert run(first, last, kinds=("energy", "charge")).ok
    start = day_start(first, oracle.ZONE).timestamp()
    end = day_start(last + timedelta(days=1), oracle.ZONE).timestamp()
    truth = sim.charge_sessions(site, start, end)
    sessions = stored(influxd, influx_db, "charge_session")
    assert truth and len(sessions) == len(truth)
    rows = [r for offset in range(31) for r in sim.energy_rows(site, first + timedelta(offset))]
    for point, session in zip(sessions, truth, strict=True):
        begin = session["charge_start_time"]["seconds"]
        seconds = session["charge_duration"]["seconds"]
        expected = oracle.session_cost(begin, seconds, session["energy_added_wh"])
        assert abs(point["cost"] - expected) <= TOLERANCE, begin
        spanned = [r for r in rows
                   if begin - 300 < datetime.fromisoformat(r["timestamp"]).timestamp()
                   < begin + max(seconds, 1)]
        home = sum(r.get("total_home_usage", 0) for r in spanned)
        solar = sum(r.get("consumer_energy_imported_from_solar", 0) for r in spanned)
        assert point["solar_share"] == pytest.approx(solar / home, abs=1e-12)


def test_the_daemon_records_a_tariff_only_when_it_changed(sim, site, client, sink, settings,
                                                         influxd, influx_db):
    clock = [sim.clock.now()]
    collector = Collector(client, sink, settings, clock=lambda: clock[0])
    sites = [Site(site, "Sim")]
    collector.snapshot_site_info(sites)
    clock[0] += 300
    collector.snapshot_site_info(sites)
    assert len(stored(influxd, influx_db, "tariff_version")) == 1
    cheaper = three_season()
    cheaper["energy_charges"]["Winter"]["rates"]["OFF_PEAK"] = 0.2
    sim.change_settings(site, tariff=cheaper)
    clock[0] += 300
    collector.snapshot_site_info(sites)
    fresh = Collector(client, sink, settings, clock=lambda: clock[0] + 300)  # a restart
    fresh.snapshot_site_info(sites)
    versions = stored(influxd, influx_db, "tariff_version")
    assert [v["time"] for v in versions] == [int(clock[0]) - 600, int(clock[0])]
    assert versions[1]["content"].count('"OFF_PEAK":0.2') == 1


def test_the_recent_history_refresh_prices_today_and_yesterday(sim, site, client, sink,
                                                               settings, now, influxd,
                                                               influx_db):
    settings = dataclasses.replace(settings, cost=dataclasses.replace(settings.cost,
                                                                      system_price=9000.0))
    history = RecentHistory(client, sink, settings, now=now)
    history.refresh_recent(site)
    energy = stored(influxd, influx_db, "energy_history")
    costs = stored(influxd, influx_db, "energy_cost")
    assert len(energy) == len(costs) > 288 and [c["time"] for c in costs] == [
        e["time"] for e in energy]
    today = now().astimezone(oracle.ZONE).date()
    daily = stored(influxd, influx_db, "energy_cost_charges", " WHERE charge = 'daily'")
    assert [d["time"] for d in daily] == [
        int(day_start(today - timedelta(days=d), oracle.ZONE).timestamp()) for d in (1, 0)]
    assert {d["system_price"] for d in daily} == {9000.0}


def test_a_declared_tariff_wins_at_ingest(run, sim, site, sink, influxd, influx_db):
    flat = three_season()
    flat["name"] = "Declared"
    flat["energy_charges"] = {s: {"rates": {p: 0.25 for p in rates["rates"]}}
                              for s, rates in flat["energy_charges"].items()}
    day = date(2024, 7, 16)
    declared = declared_version(flat, day_start(day, oracle.ZONE),
                                day_start(day + timedelta(days=1), oracle.ZONE))
    seen = TariffVersion(int(day_start(date(2024, 7, 1), oracle.ZONE).timestamp()), SNAPSHOT,
                         three_season())
    sink.write([version_frame(seen, site), version_frame(declared, site)])
    assert run(day - timedelta(days=1), day + timedelta(days=1)).ok
    points = stored(influxd, influx_db, "energy_cost")
    inside = [p for p in points if declared.start <= p["time"] < declared.until]
    assert len(inside) == 288 and {p["buy_price"] for p in inside} == {0.25}
    assert {p["tariff_sha256"] for p in inside} == {declared.sha256}
    outside = [p for p in points if not declared.start <= p["time"] < declared.until]
    assert len(outside) == 2 * 288 and {p["tariff_sha256"] for p in outside} == {seen.sha256}
    assert datetime.fromtimestamp(points[0]["time"], UTC).date() == date(2024, 7, 15)


def test_a_window_is_checkpointed_only_once_its_costs_are_written(client, sink, sim, site,
                                                                  settings, now, run,
                                                                  influxd, influx_db):
    from collector.backfill import Checkpoint, RunOptions, Scope, checkpoint_path, run_backfill

    first, last = date(2024, 9, 1), date(2024, 9, 10)
    path = checkpoint_path(settings.collector.state_dir)
    # one write per window; costs every 600 buckets (3 windows); dies on the 5th window
    crashed = run_backfill(client, CrashingOnWindow(sink, crash_on=5), [site],
                           Scope(start=first, end=last, kinds=("energy",)), now=now,
                           checkpoint=Checkpoint(path),
                           options=RunOptions(concurrency=1, batch_points=1, price_rows=600))
    assert "killed" in crashed.error
    checkpoint = Checkpoint(path)
    marked = {d for d in range(1, 11) if checkpoint.is_done(
        run_window(site, date(2024, 9, d)))}
    energy_days = {datetime.fromtimestamp(p["time"], oracle.ZONE).day
                   for p in stored(influxd, influx_db, "energy_history")}
    cost_days = {datetime.fromtimestamp(p["time"], oracle.ZONE).day
                 for p in stored(influxd, influx_db, "energy_cost")}
    assert len(marked) == 3 and marked == cost_days and len(energy_days) == 4
    assert run(first, last, checkpoint=Checkpoint(path)).ok
    assert len(stored(influxd, influx_db, "energy_cost")) == len(
        stored(influxd, influx_db, "energy_history")) == 10 * 288


class CrashingOnWindow(CrashingSink):
    """The real sink, until the process 'dies' on the n-th write of energy_history lines."""

    def write(self, lines):
        if isinstance(lines, list) and any(isinstance(x, str) and x.startswith(
                "energy_history,") for x in lines):
            self.calls += 1
            if self.calls >= self.crash_on:
                raise RuntimeError("killed")
        return self.inner.write(lines)


def run_window(site: int, day: date):
    from collector.backfill.windows import window

    return window(site, "energy", day, day, oracle.ZONE)
