"""Build product ``Settings`` that point at a test InfluxDB database and state dir."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from collector.config import CollectorSettings, InfluxSettings, Secret, Settings


def make_settings(url: str, database: str, state_dir: Path, *, token: str = "",
                  spool_max_mb: float | None = None, **influx: Any) -> Settings:
    """Settings with bucket ``<database>/autogen`` (the 1.x ``db/rp`` form) at ``url``.

    ``token`` may be ``""`` (no auth) or ``"user:pass"`` (accepted by the gateway and by 1.8+).
    """
    collector = CollectorSettings(state_dir=state_dir)
    if spool_max_mb is not None:
        collector = dataclasses.replace(collector, spool_max_mb=spool_max_mb)
    return Settings(
        influx=InfluxSettings(url=url, token=Secret(token), org="-",
                              bucket=f"{database}/autogen", **influx),
        collector=collector,
    )
