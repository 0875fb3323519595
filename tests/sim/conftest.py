"""Fixtures for the simulator tests: a 3-site simulator frozen at a fixed instant, and a
``FleetClient`` pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from collector.config import load_settings
from collector.sim import SimClock, SimConfig, SimServer
from collector.source import FleetClient, build_client

NOW = datetime(2025, 11, 20, 20, 7, 30, tzinfo=UTC)  # 12:07:30 in Los Angeles
INSTALLED = date(2024, 6, 1)
SEED = 11


def make_sim(**overrides) -> SimServer:
    options = {"sites": 3, "seed": SEED, "installation_date": INSTALLED,
               "clock": SimClock.fixed(NOW)}
    options.update(overrides)
    return SimServer(SimConfig(**options))


@pytest.fixture
def sim() -> Iterator[SimServer]:
    with make_sim() as server:
        yield server


def client_for(server: SimServer, **env: str) -> FleetClient:
    environ = {"TESLA_API_URL": server.base_url, "TESLA_AUTH_URL": server.auth_url,
               "TESLA_ACCESS_TOKEN": "anything", "TESLA_MAX_RETRIES": "0", **env}
    return build_client(load_settings(environ=environ))


@pytest.fixture
def client(sim: SimServer) -> Iterator[FleetClient]:
    with client_for(sim) as fleet:
        yield fleet
