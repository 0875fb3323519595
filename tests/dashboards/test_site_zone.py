"""Dashboards cut days at the site's own midnight, learned from the data, for a history-only site.

A Los Angeles site is imported with ``tesla-energy backfill`` alone (no daemon, no
``live_status``) over both DST days of 2025. The dashboards' variables are then resolved the way
Grafana resolves them, by running their own queries against the real influxd: the site's name
(``$site_name``) from the ``site_info`` the backfill wrote, its ids (``$site``, "All" of the
options for that name), then ``$tz`` from the ``time_zone`` tag of those ids. Every daily panel
of the Energy dashboard must then return, per local day, exactly the sums of the stored
``energy_history`` buckets of that day (23, 24 and 25 hour days), each column as its own
expression says.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from collector.backfill.windows import day_start
from collector.sim import SimConfig, SimServer
from tests.dashboards.panels import (
    grafana_regex_value,
    load_dashboards,
    metric_find_values,
    panels,
    substitute,
    variable_options,
)
from tests.support import InfluxServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ZONE = ZoneInfo("America/Los_Angeles")
RANGES = ((date(2025, 3, 8), date(2025, 3, 10)),  # spring forward on the 9th: 23 h
          (date(2025, 11, 1), date(2025, 11, 3)))  # fall back on the 2nd: 25 h
INSTALLED = date(2024, 6, 1)
_SUM_ITEM = re.compile(r'((?:sum\("\w+"\)\s*\+?\s*)+)\s+AS\s+"([^"]+)"')
_FIELD = re.compile(r'sum\("(\w+)"\)')


@dataclass(frozen=True)
class Imported:
    db: str
    site_id: str
    site_name: str


def backfill(env: dict[str, str], first: date, last: date) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "collector", "backfill", "--kind", "energy", "--start",
         first.isoformat(), "--end", last.isoformat()],
        env=env, text=True, capture_output=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.fixture(scope="module")
def imported(influxd: InfluxServer, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Imported]:
    db = influxd.create_database(f"zone_{uuid.uuid4().hex[:10]}")
    sim = SimServer(SimConfig(sites=1, seed=3, installation_date=INSTALLED)).start()
    env = {
        **{k: v for k, v in os.environ.items()
           if not k.startswith(("TESLA_", "INFLUX_", "COLLECTOR_"))},
        "TESLA_API_URL": sim.base_url, "TESLA_AUTH_URL": sim.auth_url,
        "TESLA_ACCESS_TOKEN": "demo", "INFLUX_URL": influxd.url, "INFLUX_TOKEN": "",
        "INFLUX_ORG": "-", "INFLUX_BUCKET": f"{db}/autogen",
        "COLLECTOR_STATE_DIR": str(tmp_path_factory.mktemp("zone-state")),
        "COLLECTOR_LOG_LEVEL": "warning", "COLLECTOR_BACKFILL_RATE": "500",
    }
    try:
        for first, last in RANGES:
            backfill(env, first, last)
        (site_id,) = sim.site_ids
        snapshots = influxd.query(f"SELECT * FROM \"site_info\" WHERE \"site_id\" = "
                                  f"'{site_id}'", db=db)
        assert len(snapshots) == len(RANGES)  # one site_info point per backfill run
        yield Imported(db, str(site_id), snapshots[-1]["site_name"])
    finally:
        sim.stop()
        influxd.drop_database(db)


def energy_board() -> dict:
    return load_dashboards()["energy.json"]


def variable(board: dict, name: str) -> dict:
    return next(v for v in board["templating"]["list"] if v["name"] == name)


def resolve(influxd: InfluxServer, db: str, spec: dict, selected: dict[str, str]) -> list:
    """The variable's options: its query (with the variables it uses) run against influxd,
    the rows read as Grafana's InfluxDB datasource reads them, then its regex."""
    query = spec["query"]
    for name, value in selected.items():
        query = query.replace(f"${name}", value)
    rows = influxd.query(query, db=db)
    return variable_options(metric_find_values(rows), spec.get("regex", ""))


def chosen(influxd: InfluxServer, imported: Imported) -> tuple[list, list, list]:
    """The options of ``site_name``, of ``site`` for the imported site's name, and of ``tz``
    for those ids (the dependent variables at "All" / their first option, as Grafana does)."""
    board = energy_board()
    names = resolve(influxd, imported.db, variable(board, "site_name"), {})
    ids = resolve(influxd, imported.db, variable(board, "site"),
                  {"site_name": grafana_regex_value([imported.site_name])})
    zones = resolve(influxd, imported.db, variable(board, "tz"),
                    {"site": grafana_regex_value([value for _, value in ids])})
    return names, ids, zones


def test_backfill_alone_lists_the_site_by_name_and_gives_its_zone(
        influxd: InfluxServer, imported: Imported) -> None:
    names, ids, zones = chosen(influxd, imported)
    assert names == [(imported.site_name, imported.site_name)]
    assert ids == [(imported.site_id, imported.site_id)]
    assert zones == [("America/Los_Angeles", "America/Los_Angeles")]


def stored_local_day_sums(influxd: InfluxServer, imported: Imported) -> dict[date, dict]:
    rows = influxd.query(f"SELECT * FROM \"energy_history\" WHERE \"site_id\" = "
                         f"'{imported.site_id}'", db=imported.db)
    sums: dict[date, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    counts: dict[date, int] = defaultdict(int)
    for row in rows:
        day = datetime.fromtimestamp(row["time"], UTC).astimezone(ZONE).date()
        counts[day] += 1
        for key, value in row.items():
            if key != "time" and isinstance(value, int | float):
                sums[day][key] += value
    assert counts[date(2025, 3, 9)] == 276 and counts[date(2025, 11, 2)] == 300, counts
    return sums


def daily_targets(board: dict) -> list[tuple[str, str]]:
    """(panel title, query) of every Energy panel that sums fields per day."""
    found = []
    for panel in panels(board):
        for item in panel.get("targets", []):
            if "GROUP BY time(1d)" in item["query"] and _SUM_ITEM.search(item["query"]):
                found.append((panel["title"], item["query"]))
    return found


def test_energy_days_are_the_sites_local_days(influxd: InfluxServer,
                                              imported: Imported) -> None:
    board = energy_board()
    _, [(_, site_value)], [(_, zone)] = chosen(influxd, imported)
    expected = stored_local_day_sums(influxd, imported)
    targets = daily_targets(board)
    assert len(targets) >= 8, targets
    for first, last in RANGES:
        start = int(day_start(first, ZONE).timestamp())
        end = int(day_start(last + timedelta(days=1), ZONE).timestamp()) - 1
        for title, query in targets:
            text = substitute(query, start, end, "1h", [site_value], tz=zone)
            rows = influxd.query(text, db=imported.db)
            days = {datetime.fromtimestamp(r["time"], UTC).astimezone(ZONE).date(): r
                    for r in rows}
            assert sorted(days) == [first + timedelta(days=n) for n in range(3)], title
            for day, row in days.items():
                assert datetime.fromtimestamp(row["time"], ZONE).hour == 0, (title, day)
                for expression, alias in _SUM_ITEM.findall(query):
                    want = sum(expected[day][f] for f in _FIELD.findall(expression))
                    assert row[alias] == pytest.approx(want, abs=1e-6), (title, day, alias)
