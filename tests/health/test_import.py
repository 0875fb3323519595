"""battery_health and outage figures written by a backfill of the simulator into the real
influxd, checked against sums computed by hand from the buckets InfluxDB holds."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest

from collector.backfill.windows import day_start
from tests.backfill.conftest import LA

pytestmark = pytest.mark.integration
FIRST, LAST = date(2024, 10, 1), date(2024, 11, 30)
IMPORTED = ("battery_energy_imported_from_grid", "battery_energy_imported_from_solar",
            "battery_energy_imported_from_generator")


def _local(seconds: int) -> date:
    return datetime.fromtimestamp(seconds, UTC).astimezone(LA).date()


def test_backfill_writes_battery_health_of_every_day(run, sim, influxd, influx_db):
    summary = run(FIRST, LAST, kinds=("energy", "backup"))
    # a loaded machine may time out a window or two (one day each): those days have no
    # buckets, so no point; every imported day has one
    failed = sum(s.failed for s in summary.stats.values() if s.kind == "energy")
    site = sim.site_ids[0]
    buckets = influxd.query(f"SELECT * FROM energy_history WHERE site_id = '{site}'",
                            db=influx_db)
    out, into = defaultdict(float), defaultdict(float)
    for row in buckets:
        day = _local(row["time"])
        out[day] += row.get("battery_energy_exported") or 0.0
        into[day] += sum(row.get(name) or 0.0 for name in IMPORTED)
    (info,) = influxd.query(f"SELECT last(nameplate_energy) FROM site_info WHERE site_id = "
                            f"'{site}'", db=influx_db)
    nameplate = info["last"]
    health = {_local(r["time"]): r for r in influxd.query(
        f"SELECT * FROM battery_health WHERE site_id = '{site}'", db=influx_db)}
    assert sorted(health) == sorted(out)  # one point per imported day
    assert len(health) == (LAST - FIRST).days + 1 - failed
    for day, row in health.items():
        assert row["time"] == int(day_start(day, LA).timestamp())
        window = [day - timedelta(days=k) for k in range(30)]
        expected = sum(out[d] for d in window) / sum(into[d] for d in window)
        assert row["round_trip_efficiency"] == pytest.approx(expected, rel=1e-12)
        assert row["cycles"] == pytest.approx(out[day] / nameplate, rel=1e-12)
    assert 0.5 < health[LAST]["round_trip_efficiency"] < 1.0  # a plausible simulator


def test_backfill_gives_every_outage_its_energy(run, sim, influxd, influx_db):
    run(date(2024, 1, 1), LAST, kinds=("energy", "backup"))
    site = sim.site_ids[0]
    events = influxd.query(f"SELECT * FROM backup_event WHERE site_id = '{site}'",
                           db=influx_db)
    assert events, "the simulator has outages in these eleven months"
    for event in events:
        start, stop = event["time"], event["time"] + event["duration_seconds"]
        buckets = influxd.query(f"SELECT * FROM energy_history WHERE site_id = '{site}' AND "
                                f"time >= {start - 300}s AND time < {int(stop) + 300}s",
                                db=influx_db)
        home = battery = solar = 0.0
        for row in buckets:  # 5-minute buckets, each counted with the share covered
            share = max(0.0, min(row["time"] + 300, stop) - max(row["time"], start)) / 300
            home += share * row["total_home_usage"]
            battery += share * row["battery_energy_exported"]
            solar += share * row["solar_energy_exported"]
        if _local(start) > LAST:
            continue
        assert event["home_usage_wh"] == pytest.approx(home, rel=1e-9)
        assert event["battery_energy_wh"] == pytest.approx(battery, rel=1e-9)
        assert event["solar_energy_wh"] == pytest.approx(solar, rel=1e-9)
        assert event.get("soc_start") is None  # no live samples were collected
