"""Settings changed outside this tool: the daemon's site_info snapshots against the simulator
and a real influxd carry ``settings_changed_outside`` = how many of backup reserve / operation
mode changed since the previous snapshot without a ``control_event`` from the set flow.
(Here for the cost fixtures: a simulator with a frozen clock, a real sink, a client.)"""

from __future__ import annotations

import io

import pytest

from collector.commands.set import _backup, _mode
from collector.control import Options, apply_change
from collector.jobs import Collector, Site

pytestmark = pytest.mark.integration


class Args:
    def __init__(self, **values):
        self.__dict__.update(values)


def verdicts(influxd, db: str) -> list[int]:
    rows = influxd.query('SELECT "settings_changed_outside" FROM "site_info"', db=db)
    return [row["settings_changed_outside"] for row in rows]


def test_outside_changes_count_and_changes_made_by_set_do_not(sim, site, client, sink,
                                                              settings, influxd, influx_db):
    clock = [sim.clock.now()]
    collector = Collector(client, sink, settings, clock=lambda: clock[0])
    sites = [Site(site, "Sim")]

    def snapshot() -> None:
        clock[0] += 300
        collector.snapshot_site_info(sites)

    snapshot()  # first ever snapshot: nothing to compare with
    sim.change_settings(site, backup_reserve_percent=55)  # in the Tesla app
    snapshot()
    snapshot()  # unchanged since
    options = Options(yes=True, out=io.StringIO(), clock=lambda: clock[0])
    assert apply_change(client, sink, site, _mode(Args(mode="autonomous")), options) == 0
    snapshot()  # changed by this tool: explained by its control_event
    sim.change_settings(site, backup_reserve_percent=30, default_real_mode="self_consumption")
    snapshot()  # both outside
    assert verdicts(influxd, influx_db) == [0, 1, 0, 0, 2]

    restarted = Collector(client, sink, settings, clock=lambda: clock[0])
    sim.change_settings(site, backup_reserve_percent=40)
    clock[0] += 300
    restarted.snapshot_site_info(sites)  # compares with the last snapshot stored in InfluxDB
    assert verdicts(influxd, influx_db)[-1] == 1
    options = Options(yes=True, out=io.StringIO(), clock=lambda: clock[0])
    assert apply_change(client, sink, site, _backup(Args(percent=45)), options) == 0
    clock[0] += 300
    restarted.snapshot_site_info(sites)
    assert verdicts(influxd, influx_db)[-1] == 0
    types = influxd.field_types(influx_db, "site_info")
    assert types["settings_changed_outside"] == "integer"
