"""Fixtures for the cost integration tests: the backfill fixtures (client, real sink on a
fresh influxd database, ``run``) around a simulator whose one site (America/Los_Angeles) has
the hand-written three-season tariff of ``support``, and readers of what InfluxDB holds."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from collector.sim import SimClock, SimConfig, SimServer
from collector.sim.spec import SiteSettings, default_site
from tests.backfill.conftest import INSTALLED, NOW, client, now, run, settings, sink  # noqa: F401
from tests.cost.support import LA, three_season


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[SimServer]:
    """The site's tariff is served as v2 ``tariff_content_v2``, or as the older v1
    ``tariff_content`` when a test parametrizes ``sim`` (indirect) with ``"v1"``."""
    spec = default_site(0, 11, INSTALLED, LA)
    spec = dataclasses.replace(spec, settings=SiteSettings(tariff=three_season()),
                               tariff_format=getattr(request, "param", "v2"))
    with SimServer(SimConfig(sites=(spec,), seed=11, clock=SimClock(NOW, speed=0.0))) as server:
        yield server


@pytest.fixture
def site(sim: SimServer) -> int:
    return sim.site_ids[0]


@pytest.fixture
def cli_env(monkeypatch, sim, influxd, influx_db, tmp_state_dir) -> dict[str, str]:
    env = {"TESLA_API_URL": sim.base_url, "TESLA_ACCESS_TOKEN": "sim-access-token",
           "INFLUX_URL": influxd.url, "INFLUX_BUCKET": f"{influx_db}/autogen", "INFLUX_ORG": "-",
           "COLLECTOR_STATE_DIR": str(tmp_state_dir), "COLLECTOR_BACKFILL_RATE": "500",
           "COLLECTOR_LOG_FORMAT": "json", "COLLECTOR_LOG_LEVEL": "warning"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("COLLECTOR_CONFIG", "TESLA_SITE_IDS", "TESLA_TIME_ZONE",
                "COLLECTOR_SYSTEM_PRICE", "COLLECTOR_INSTALLATION_DATE"):
        monkeypatch.delenv(key, raising=False)
    return env
