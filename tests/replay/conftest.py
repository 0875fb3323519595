"""Fixtures for the replay tests: the real sink on a fresh database of the session influxd,
and a CLI environment pointed at a ``ReplayServer``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from collector.sink import InfluxSink
from tests.support.replay import ReplayServer


@pytest.fixture
def sink(influx_settings) -> Iterator[InfluxSink]:
    with InfluxSink(influx_settings) as influx_sink:
        yield influx_sink


@pytest.fixture
def replay_env(monkeypatch, influxd, influx_db, tmp_state_dir) -> Callable[[ReplayServer], None]:
    """``replay_env(api)``: the CLI's environment for a replay server (no TESLA_TIME_ZONE)."""

    def point_at(api: ReplayServer) -> None:
        env = {"TESLA_API_URL": api.base_url, "TESLA_ACCESS_TOKEN": "replay-access-token",
               "INFLUX_URL": influxd.url, "INFLUX_BUCKET": f"{influx_db}/autogen",
               "INFLUX_ORG": "-", "COLLECTOR_STATE_DIR": str(tmp_state_dir),
               "COLLECTOR_BACKFILL_RATE": "200", "COLLECTOR_LOG_FORMAT": "console",
               "TESLA_MAX_RETRIES": "0"}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for key in ("COLLECTOR_CONFIG", "TESLA_SITE_IDS", "TESLA_TIME_ZONE",
                    "TESLA_REFRESH_TOKEN"):
            monkeypatch.delenv(key, raising=False)

    return point_at
