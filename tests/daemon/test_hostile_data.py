"""Hostile data through ``tesla-energy run --once`` into the suite's influxd: names line protocol
cannot carry as given, absurd values and incomplete replies (issue 11, cases 8-10).

The simulator serves the site; a ``RewritingProxy`` in front of it makes single replies hostile,
so everything else (client, transform, sink, InfluxDB) is the real product.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from collector.cli import main
from collector.sim import SimClock, SimConfig, SimServer
from collector.sim.spec import default_site
from collector.sink.deadletter import DEAD_LETTER_FILE
from tests.support.rewrite import RewritingProxy

START = datetime(2024, 6, 12, 19, 0, tzinfo=UTC)
INSTALLED = date(2023, 3, 1)
DIN = "1457768-02-G--PGT2212345ABCD"

pytestmark = pytest.mark.integration


def _sim(**spec_changes) -> SimServer:
    spec = dataclasses.replace(default_site(0, 7, INSTALLED, "America/Los_Angeles"),
                               **{"wall_connector_din": DIN, **spec_changes})
    return SimServer(SimConfig(sites=(spec,), clock=SimClock.fixed(START)))


@pytest.fixture
def sim() -> Iterator[SimServer]:
    with _sim() as server:
        yield server


@pytest.fixture
def proxy(sim: SimServer) -> Iterator[RewritingProxy]:
    with RewritingProxy(sim.base_url) as server:
        yield server


def _env(monkeypatch, api_url: str, influxd, db: str, state: Path) -> None:
    env = {"TESLA_API_URL": api_url, "TESLA_ACCESS_TOKEN": "sim-access-token",
           "INFLUX_URL": influxd.url, "INFLUX_BUCKET": f"{db}/autogen", "INFLUX_ORG": "-",
           "COLLECTOR_STATE_DIR": str(state), "COLLECTOR_LOG_FORMAT": "json",
           "COLLECTOR_BACKFILL_RATE": "200", "TESLA_MAX_RETRIES": "0"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("COLLECTOR_CONFIG", "TESLA_SITE_IDS", "TESLA_TIME_ZONE", "TESLA_AUTH_URL"):
        monkeypatch.delenv(key, raising=False)


def _tags(influxd, db: str, measurement: str, key: str) -> set[str]:
    rows = influxd.query(f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "{key}"', db=db)
    return {row["value"] for row in rows}


def test_site_name_and_din_ending_in_a_backslash_are_written(monkeypatch, influxd, influx_db,
                                                            tmp_state_dir, capsys):
    with _sim(name="Garage\\", wall_connector_din=DIN + "\\") as sim:
        _env(monkeypatch, sim.base_url, influxd, influx_db, tmp_state_dir)
        assert main(["run", "--once"]) == 0
    assert _tags(influxd, influx_db, "live_status", "site_name") == {"Garage"}
    assert _tags(influxd, influx_db, "site_info", "site_name") == {"Garage"}
    assert _tags(influxd, influx_db, "wall_connector", "din") == {DIN}
    assert not (tmp_state_dir / DEAD_LETTER_FILE).exists()
    assert "wrote" in capsys.readouterr().out
