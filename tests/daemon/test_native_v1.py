"""``backfill``, ``run --once`` and ``demo`` write to Debian's influxd 1.6.7 directly (its own
``/write``; no gateway in between), and the same commands use ``/api/v2/write`` when the server
announces 2.x (the gateway playing it in front of the same influxd)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from collector.cli import main
from collector.sim import SimConfig, SimServer
from tests.support import InfluxServer
from tests.support.settings import set_cli_env


@pytest.fixture
def sim():
    config = SimConfig(sites=1, seed=9,
                       installation_date=date(2024, 6, 1))
    with SimServer(config) as server:
        yield server


def _env(monkeypatch, sim: SimServer, url: str, db: str, state: Path) -> None:
    set_cli_env(monkeypatch, sim.base_url, url, db, state, INFLUX_TOKEN="")


def _write_api(stderr: str) -> set[str]:
    events = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return {e["write_api"] for e in events if e.get("event") == "influxdb_detected"}


def _count(server: InfluxServer, db: str, measurement: str, field: str) -> int:
    rows = server.query(f'SELECT count("{field}") FROM "{measurement}"', db=db)
    return int(rows[0]["count"]) if rows else 0


@pytest.mark.parametrize(("url_of", "api"), [("url", "/write"),
                                             ("gateway_url", "/api/v2/write")])
def test_backfill_and_run_once_pick_the_write_api_from_the_server(
        url_of, api, sim, influxd, influx_db, tmp_state_dir, monkeypatch, capsys):
    _env(monkeypatch, sim, getattr(influxd, url_of), influx_db, tmp_state_dir)
    assert main(["backfill", "--start", "2024-06-11", "--end", "2024-06-11",
                 "--kind", "energy"]) == 0
    assert main(["run", "--once"]) == 0
    assert _write_api(capsys.readouterr().err) == {api}
    assert _count(influxd, influx_db, "energy_history", "total_home_usage") >= 288
    assert _count(influxd, influx_db, "live_status", "load_power") == 1


def test_demo_writes_to_influxd_1_6_directly(influxd, influx_db, tmp_state_dir, tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TESLA_", "INFLUX_", "COLLECTOR_"))}
    env.update(INFLUX_URL=influxd.url, INFLUX_BUCKET=f"{influx_db}/autogen", INFLUX_ORG="-",
               COLLECTOR_STATE_DIR=str(tmp_state_dir), COLLECTOR_LIVE_INTERVAL="1",
               COLLECTOR_BACKFILL_RATE="200",
               COLLECTOR_LOG_FORMAT="json")
    log = tmp_path / "demo.log"
    with log.open("wb") as stderr:
        demo = subprocess.Popen([sys.executable, "-m", "collector", "demo", "--days", "1"],
                                env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 60
        while _count(influxd, influx_db, "live_status", "load_power") < 2:
            assert demo.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "no live points from the demo"
            time.sleep(0.2)
    finally:
        demo.send_signal(signal.SIGTERM)
        code = demo.wait(20)
    assert code == 0
    assert _write_api(log.read_text()) == {"/write"}
    assert _count(influxd, influx_db, "energy_history", "total_home_usage") > 0
