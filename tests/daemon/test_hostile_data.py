"""Hostile data through ``tesla-energy run --once`` into the suite's influxd: names line protocol
cannot carry as given, absurd values and incomplete replies (issue 11, cases 8-10).

The simulator serves the site; a ``RewritingProxy`` in front of it makes single replies hostile,
so everything else (client, transform, sink, InfluxDB) is the real product.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from collector import app
from collector.cli import main
from collector.config import Secret, TeslaSettings
from collector.sim import SimClock, SimConfig, SimServer
from collector.sim.spec import default_site
from collector.sink.deadletter import DEAD_LETTER_FILE
from tests.support.rewrite import RewritingProxy
from tests.support.settings import set_cli_env

INSTALLED = date(2023, 3, 1)
DIN = "1457768-02-G--PGT2212345ABCD"

pytestmark = pytest.mark.integration


def _sim(**spec_changes) -> SimServer:
    """One site on the real clock (the CLI reads the wall clock), with a Wall Connector."""
    spec = dataclasses.replace(default_site(0, 7, INSTALLED, "America/Los_Angeles"),
                               **{"wall_connector_din": DIN, **spec_changes})
    return SimServer(SimConfig(sites=(spec,), clock=SimClock()))


@pytest.fixture
def sim() -> Iterator[SimServer]:
    with _sim() as server:
        yield server


@pytest.fixture
def proxy(sim: SimServer) -> Iterator[RewritingProxy]:
    with RewritingProxy(sim.base_url) as server:
        yield server


def _env(monkeypatch, api_url: str, influxd, db: str, state: Path) -> None:
    set_cli_env(monkeypatch, api_url, influxd.url, db, state, TESLA_MAX_RETRIES="0")


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


def _count(influxd, db: str, measurement: str, field: str) -> int:
    rows = influxd.query(f'SELECT count("{field}") FROM "{measurement}"', db=db)
    return int(rows[0]["count"]) if rows else 0


@pytest.mark.parametrize(("field", "value"), [
    ("solar_power", 1e308), ("percentage_charged", -1e308), ("timestamp", "2099-01-01T00:00:00Z"),
])
def test_run_once_never_writes_an_absurd_live_sample_and_exits_1(
        monkeypatch, proxy, influxd, influx_db, tmp_state_dir, capsys, field, value):
    proxy.rewrite("live_status", lambda response, _query: {**response, field: value})
    _env(monkeypatch, proxy.url, influxd, influx_db, tmp_state_dir)
    assert main(["run", "--once"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("tesla-energy: error: live:") and "was skipped" in err
    assert (f"{field}={value!r}" if field != "timestamp" else "timestamp 2099-01-01") in err
    assert _count(influxd, influx_db, "live_status", "load_power") == 0
    assert _count(influxd, influx_db, "wall_connector", "wall_connector_power") == 0
    assert _count(influxd, influx_db, "site_info", "backup_reserve_percent") == 1


def _yesterday_without_buckets(response: dict, query: dict[str, str]) -> dict:
    """Energy replies for any day but today lose their time_series."""
    today = date.today().isoformat()
    if query.get("kind") == "energy" and not query.get("end_date", today).startswith(today):
        response.pop("time_series", None)
    return response


def test_run_once_exits_1_when_yesterday_has_no_buckets(monkeypatch, proxy, influxd, influx_db,
                                                       tmp_state_dir, capsys):
    proxy.rewrite("calendar_history", _yesterday_without_buckets)
    _env(monkeypatch, proxy.url, influxd, influx_db, tmp_state_dir)
    assert main(["run", "--once"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "history:" in err and "no buckets for past day" in err
    assert "(time_series missing)" in err
    assert _count(influxd, influx_db, "live_status", "load_power") == 1  # the rest is written


def test_the_daemon_reports_skipped_samples_and_missing_days_in_health(proxy, influx_settings):
    proxy.rewrite("calendar_history", _yesterday_without_buckets)
    proxy.rewrite("live_status", lambda response, _query: {**response, "solar_power": 1e308})
    tesla = TeslaSettings(api_url=proxy.url, access_token=Secret("sim-access-token"),
                          max_retries=0)
    daemon = app.build(dataclasses.replace(influx_settings, tesla=tesla))
    history = daemon.collector.history
    history.options = dataclasses.replace(history.options, retry_delay_seconds=0.01)
    daemon.schedule()
    daemon.scheduler.start(paused=True)
    try:
        for job in ("live:0", "history:0"):
            daemon.scheduler.get_job(job).func()
        jobs = daemon.health.snapshot()["jobs"]
        assert jobs["live:0"]["failing"] and "solar_power=1e+308" in jobs["live:0"]["error"]
        assert jobs["history:0"]["failing"]
        assert "no buckets for past day" in jobs["history:0"]["error"]
        assert daemon.health.last_write is None
    finally:
        daemon.scheduler.shutdown(wait=False)
        daemon.close()


def test_run_once_exits_1_when_influxdb_refuses_points(monkeypatch, sim, influxd, influx_db,
                                                       tmp_state_dir, capsys):
    # A string solar_power in this shard: the collector's float one is a type conflict.
    influxd.write_lines(influx_db, [f'live_status solar_power="a string" {int(time.time())}'])
    _env(monkeypatch, sim.base_url, influxd, influx_db, tmp_state_dir)
    assert main(["run", "--once"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "InfluxDB refused" in err and DEAD_LETTER_FILE in err
    assert (tmp_state_dir / DEAD_LETTER_FILE).exists()


def test_run_once_never_writes_an_absurd_site_info(monkeypatch, proxy, influxd, influx_db,
                                                   tmp_state_dir, capsys):
    proxy.rewrite("site_info", lambda response, _q: {**response, "backup_reserve_percent": 1e308})
    _env(monkeypatch, proxy.url, influxd, influx_db, tmp_state_dir)
    assert main(["run", "--once"]) == 1
    assert "backup_reserve_percent=1e+308" in capsys.readouterr().err
    assert _count(influxd, influx_db, "site_info", "default_real_mode") == 0
    assert _count(influxd, influx_db, "live_status", "load_power") == 1
