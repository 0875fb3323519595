"""Build product ``Settings`` that point at a test InfluxDB database and state dir."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from collector.config import CollectorSettings, InfluxSettings, Secret, Settings


def make_settings(url: str, database: str, state_dir: Path, *, token: str = "",
                  spool_max_mb: float | None = None, policy: str = "autogen",
                  **influx: Any) -> Settings:
    """Settings with bucket ``<database>/<policy>`` (the 1.x ``db/rp`` form) at ``url``.

    ``token`` may be ``""`` (no auth) or ``"user:pass"`` (1.x users; the gateway passes it on).
    """
    collector = CollectorSettings(state_dir=state_dir)
    if spool_max_mb is not None:
        collector = dataclasses.replace(collector, spool_max_mb=spool_max_mb)
    return Settings(
        influx=InfluxSettings(url=url, token=Secret(token), org="-",
                              bucket=f"{database}/{policy}", **influx),
        collector=collector,
    )


def set_cli_env(monkeypatch: Any, api_url: str, influx_url: str, database: str,
                state_dir: Path, **extra: str) -> None:
    """Environment for ``collector.cli.main`` run in-process: the Fleet API at ``api_url`` (a
    simulator or a proxy in front of it), bucket ``<database>/autogen`` at ``influx_url``,
    JSON logs, a fast backfill budget; no config file, site list or zone from the caller's
    environment. ``extra`` adds or overrides variables."""
    env = {"TESLA_API_URL": api_url, "TESLA_ACCESS_TOKEN": "sim-access-token",
           "INFLUX_URL": influx_url, "INFLUX_BUCKET": f"{database}/autogen", "INFLUX_ORG": "-",
           "COLLECTOR_STATE_DIR": str(state_dir), "COLLECTOR_LOG_FORMAT": "json",
           "COLLECTOR_BACKFILL_RATE": "200", **extra}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("COLLECTOR_CONFIG", "TESLA_SITE_IDS", "TESLA_TIME_ZONE", "TESLA_AUTH_URL"):
        if key not in env:
            monkeypatch.delenv(key, raising=False)
