"""Fixtures for the settings-change tests: the simulator in-process, the CLI pointed at it and
(for the recorded changes) at a fresh database on the suite's real influxd."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from collector.sim import SimConfig, SimServer

TOKEN = "control-test-token"


@pytest.fixture
def sim() -> Iterator[SimServer]:
    with SimServer(SimConfig(sites=1, seed=6, token=TOKEN)) as server:
        yield server


@pytest.fixture
def site_id(sim: SimServer) -> int:
    return sim.site_ids[0]


@pytest.fixture
def cli_env(monkeypatch, sim: SimServer, tmp_path) -> SimServer:
    """The CLI talks to ``sim``; InfluxDB points nowhere (tests that write use ``influx_env``)."""
    for name in ("COLLECTOR_CONFIG", "TESLA_SITE_IDS", "TESLA_REFRESH_TOKEN", "INFLUX_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TESLA_API_URL", sim.base_url)
    monkeypatch.setenv("TESLA_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("TESLA_MAX_RETRIES", "0")
    monkeypatch.setenv("COLLECTOR_STATE_DIR", str(tmp_path / "state"))
    return sim


@pytest.fixture
def influx_env(monkeypatch, cli_env: SimServer, influxd, influx_db: str) -> str:
    """Also point the CLI's sink at a fresh database on the real influxd; returns its name."""
    monkeypatch.setenv("INFLUX_URL", influxd.url)
    monkeypatch.setenv("INFLUX_BUCKET", f"{influx_db}/autogen")
    monkeypatch.setenv("INFLUX_ORG", "-")
    monkeypatch.delenv("INFLUX_TOKEN", raising=False)
    return influx_db
