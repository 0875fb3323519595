"""Every dashboard query, run against a real influxd filled by the real pipeline.

The simulator (in-process, two sites in different zones) is the Fleet API; the product's own
commands fill the database exactly as a user would: ``backfill`` (energy history, backup
events, charge sessions), ``run --once`` (live_status, wall_connector, site_info, collector
metrics) and ``set`` (control_event). Each panel, annotation and variable query then gets
Grafana's macros substituted and must return at least one row with a value; a query that
returns nothing fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from collector.sim import SimConfig, SimServer
from tests.dashboards.panels import (
    Query,
    all_queries,
    grafana_regex_value,
    load_dashboards,
    metric_find_values,
    substitute,
    variable_options,
)
from tests.support import InfluxServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

LIVE_CYCLES = 3
ENERGY_DAYS = 3
GRAFANA_MAX_POINTS = 1000  # about what a full-width panel asks for
MIN_INTERVAL_S = 10  # the datasource's timeInterval


@dataclass(frozen=True)
class Filled:
    db: str
    site_ids: list[str]
    start_s: int
    end_s: int

    @property
    def interval(self) -> str:
        return f"{max(MIN_INTERVAL_S, (self.end_s - self.start_s) // GRAFANA_MAX_POINTS)}s"


def cli(env: dict[str, str], *argv: str) -> int:
    """``tesla-energy ARGV`` as its own process (as a user or cron would run it)."""
    result = subprocess.run([sys.executable, "-m", "collector", *argv], env=env, text=True,
                            capture_output=True, timeout=300, check=False)
    if result.returncode != 0:
        print(f"tesla-energy {' '.join(argv)} -> {result.returncode}\n{result.stderr[-2000:]}")
    return result.returncode


def oldest_outage_day(sim: SimServer, now: float) -> date:
    """The start of a window that holds at least one backup event of some site (from the
    simulator's own model), and at least a week for charge sessions."""
    week_ago = now - 7 * 86400
    for days in (30, 90, 365, 730):
        events = [event for site in sim.site_ids
                  for event in sim.backup_events(site, now - days * 86400, now)]
        if events:
            first = min(event.start for event in events)
            return datetime.fromtimestamp(min(first, week_ago), UTC).date() - timedelta(days=1)
    raise AssertionError("the simulator produced no outage in two years")


@pytest.fixture(scope="module")
def filled(influxd: InfluxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    db = influxd.create_database(f"dash_{uuid.uuid4().hex[:10]}")
    state = tmp_path_factory.mktemp("dashboards-state")
    sim = SimServer(SimConfig(sites=2, seed=7)).start()
    now = time.time()
    today = datetime.fromtimestamp(now, UTC).date()
    history_start = oldest_outage_day(sim, now)
    env = {
        **{k: v for k, v in os.environ.items()
           if not k.startswith(("TESLA_", "INFLUX_", "COLLECTOR_"))},
        "TESLA_API_URL": sim.base_url, "TESLA_AUTH_URL": sim.auth_url,
        "TESLA_ACCESS_TOKEN": "demo", "TESLA_SITE_IDS": "", "INFLUX_URL": influxd.url,
        "INFLUX_TOKEN": "", "INFLUX_ORG": "-", "INFLUX_BUCKET": f"{db}/autogen",
        "COLLECTOR_STATE_DIR": str(state), "COLLECTOR_LOG_LEVEL": "warning",
        "COLLECTOR_BACKFILL_RATE": "500", "COLLECTOR_BACKFILL_CONCURRENCY": "4",
        "COLLECTOR_SYSTEM_PRICE": "15000",  # the cost dashboard's payback line
    }
    try:
        assert cli(env, "backfill", "--kind", "backup,charge", "--start",
                   history_start.isoformat()) == 0
        assert cli(env, "backfill", "--kind", "energy", "--start",
                   (today - timedelta(days=ENERGY_DAYS)).isoformat()) == 0
        for _ in range(LIVE_CYCLES):
            assert cli(env, "run", "--once") == 0
            time.sleep(1.1)  # live points one second apart
        # today's battery health from the live samples (the capacity panel)
        for site in sim.site_ids:
            assert cli(env, "battery", "--site", str(site), "--end",
                       (today + timedelta(days=1)).isoformat()) == 0
        first = str(sim.site_ids[0])
        for change in (("backup-reserve", "35"), ("storm-mode", "off"), ("mode", "autonomous")):
            assert cli(env, "set", *change, "--site", first, "--yes") == 0
        start = datetime.combine(history_start - timedelta(days=1), datetime.min.time(), UTC)
        yield Filled(db, [str(s) for s in sim.site_ids], int(start.timestamp()),
                     int(now) + 2 * 86400)
    finally:
        sim.stop()
        influxd.drop_database(db)


def has_value(row: dict) -> bool:
    return any(v is not None for k, v in row.items() if k != "time")


def variable_options_of(influxd: InfluxServer, db: str, board: dict, name: str,
                        **selected: list[str]) -> list[tuple[str, str]]:
    """A dashboard variable's options, its query run against influxd with ``selected``
    values of the variables it depends on (Grafana's regex format)."""
    spec = next(v for v in board["templating"]["list"] if v["name"] == name)
    query = spec["query"]
    for variable, values in sorted(selected.items(), key=lambda kv: -len(kv[0])):
        query = query.replace(f"${variable}", grafana_regex_value(values))
    rows = influxd.query(query, db=db)
    return variable_options(metric_find_values(rows), spec.get("regex", ""))


def test_site_variables_list_every_simulated_site_by_name_and_zone(
        influxd: InfluxServer, filled: Filled) -> None:
    board = load_dashboards()["overview.json"]
    names = [name for name, _ in variable_options_of(influxd, filled.db, board, "site_name")]
    assert len(names) == len(filled.site_ids) and all(names), names
    ids = variable_options_of(influxd, filled.db, board, "site", site_name=names)
    assert sorted(value for _, value in ids) == sorted(filled.site_ids)
    zones = {value for site in filled.site_ids
             for _, value in variable_options_of(influxd, filled.db, board, "tz", site=[site])}
    assert zones == {"America/Los_Angeles", "Australia/Adelaide"}


@pytest.mark.parametrize("query", all_queries(), ids=str)
def test_query_returns_rows(influxd: InfluxServer, filled: Filled, query: Query) -> None:
    text = substitute(query.text, filled.start_s, filled.end_s, filled.interval,
                      filled.site_ids)
    assert "$" not in text.replace("$/", ""), f"unsubstituted macro in {text}"
    rows = influxd.query(text, db=filled.db)
    assert [r for r in rows if has_value(r)], f"{query} returned no data:\n{text}"


def test_single_site_selection_narrows_the_result(influxd: InfluxServer,
                                                  filled: Filled) -> None:
    (query,) = [q for q in all_queries()
                if q.dashboard == "overview.json" and "'Solar'" in q.where]
    rows_by_site = {}
    for site in filled.site_ids:
        text = substitute(query.text, filled.start_s, filled.end_s, filled.interval, [site])
        rows_by_site[site] = {r["site_name"] for r in influxd.query(text, db=filled.db)}
    assert all(len(names) == 1 for names in rows_by_site.values()), rows_by_site
    assert len({n for names in rows_by_site.values() for n in names}) == len(filled.site_ids)


def test_every_charge_session_row_carries_its_cost(influxd: InfluxServer, filled: Filled) -> None:
    (query,) = [q for q in all_queries()
                if q.dashboard == "wall-connector.json" and "'Charge sessions'" in q.where]
    text = substitute(query.text, filled.start_s, filled.end_s, filled.interval,
                      filled.site_ids)
    rows = influxd.query(text, db=filled.db)
    assert rows and all(r["cost"] is not None and r["cost"] > 0 for r in rows), rows[:3]
