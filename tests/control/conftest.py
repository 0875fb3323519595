"""Fixtures for the settings-change tests: the simulator in-process, the CLI pointed at it and
(for the recorded changes) at a fresh database on the suite's real influxd."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
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


def logged(sim: SimServer, endpoint: str, expected: int, status: int | None = None) -> int:
    """The request log's count for ``endpoint``, once it reaches ``expected`` (or after 5 s).

    The simulator logs a request after it has written the answer, so the client can read the
    answer a moment before the entry lands; this waits for the log, it does not time anything.
    """
    deadline = time.monotonic() + 5.0
    while (count := sim.requests.count(endpoint=endpoint, status=status)) < expected \
            and time.monotonic() < deadline:
        time.sleep(0.01)
    return count


def requests_sent(sim: SimServer, endpoint: str | None = None) -> int:
    """Requests the simulator answered, after a sentinel round trip has been logged too.

    A request whose entry is not yet in the log (see ``logged``) would have finished long
    before the sentinel's own round trip, so a zero here means nothing was sent.
    """
    before = sim.requests.count(endpoint="products")
    httpx.get(f"{sim.base_url}/api/1/products", headers={"Authorization": f"Bearer {TOKEN}"})
    logged(sim, "products", before + 1)
    if endpoint is None:
        return sim.requests.count() - sim.requests.count(endpoint="products")
    return sim.requests.count(endpoint=endpoint)
