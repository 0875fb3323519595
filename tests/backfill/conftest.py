"""Fixtures for backfill integration tests: the in-process simulator with a frozen clock, a
client pointed at it, the real sink on a fresh database of the session influxd, and readers
of what InfluxDB holds and what the simulator served."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collector.backfill import Scope, SiteContext, Summary, resolve_sites, run_backfill
from collector.config import Secret, Settings, TeslaSettings
from collector.sim import SimClock, SimConfig, SimServer
from collector.sink import InfluxSink
from collector.source import FleetClient, RateLimiter, build_client
from tests.support import InfluxServer

NOW = datetime(2024, 12, 1, 20, 0, tzinfo=UTC)  # 12:00 in Los Angeles, 06:30+1 in Adelaide
INSTALLED = date(2024, 1, 1)
LA, ADELAIDE = ZoneInfo("America/Los_Angeles"), ZoneInfo("Australia/Adelaide")


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[SimServer]:
    """Two sites: [0] America/Los_Angeles, [1] Australia/Adelaide whose site_info reports
    ``installation_time_zone: ""`` (the zone must come from the history reply). The clock is
    frozen at ``NOW`` unless a test parametrizes ``sim`` (indirect) with a clock speed."""
    speed = float(getattr(request, "param", 0.0))
    config = SimConfig(sites=2, seed=11, time_zone="America/Los_Angeles",
                       installation_date=INSTALLED, clock=SimClock(NOW, speed=speed))
    with SimServer(config) as server:
        yield server


@pytest.fixture
def now(sim: SimServer) -> Callable[[], datetime]:
    return lambda: datetime.fromtimestamp(sim.clock.now(), UTC)


@pytest.fixture
def settings(sim: SimServer, influx_settings: Settings) -> Settings:
    tesla = TeslaSettings(api_url=sim.base_url, auth_url=sim.auth_url,
                          access_token=Secret("sim-access-token"), max_retries=4)
    return dataclasses.replace(influx_settings, tesla=tesla)


@pytest.fixture
def client(settings: Settings) -> Iterator[FleetClient]:
    with build_client(settings, limiter=RateLimiter(500.0)) as fleet:
        fleet._jitter = lambda: 0.0  # keep the client's retry backoff short and predictable
        yield fleet


@pytest.fixture
def sink(settings: Settings) -> Iterator[InfluxSink]:
    with InfluxSink(settings) as influx_sink:
        yield influx_sink


@pytest.fixture
def run(client: FleetClient, sink: InfluxSink, sim: SimServer,
        now: Callable[[], datetime]) -> Callable[..., Summary]:
    """``run(start, end, kinds=..., sites=..., **run_kwargs)`` -> Summary."""

    def go(start: date | None, end: date | None, *, kinds: tuple[str, ...] = ("energy",),
           sites: list[int] | None = None, missing: bool = False, **kwargs) -> Summary:
        scope = Scope(start=start, end=end, kinds=kinds, missing=missing)
        kwargs.setdefault("concurrency", 4)
        return run_backfill(client, sink, sites or sim.site_ids[:1], scope, now=now, **kwargs)

    return go


@pytest.fixture
def contexts(client: FleetClient, sim: SimServer,
             now: Callable[[], datetime]) -> dict[int, SiteContext]:
    return {s.site_id: s for s in resolve_sites(client, sim.site_ids, "", now=now)}


def stored_by_day(influxd: InfluxServer, db: str, site_id: int,
                  zone: ZoneInfo) -> dict[date, list[dict]]:
    """Every stored energy_history point of a site, grouped by local day, in time order."""
    rows = influxd.query(f"SELECT * FROM energy_history WHERE site_id = '{site_id}'", db=db)
    by_day: dict[date, list[dict]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["time"]):
        by_day[datetime.fromtimestamp(row["time"], UTC).astimezone(zone).date()].append(row)
    return by_day


def requested_days(sim: SimServer, site_id: int, zone: ZoneInfo) -> list[date]:
    """Local days of the energy calendar_history requests the simulator answered with 200."""
    days = []
    for entry in sim.requests.entries("calendar_history"):
        if (entry.site_id == site_id and entry.status == 200
                and entry.query.get("kind") == "energy"):
            end = datetime.fromisoformat(entry.query["end_date"])
            days.append(end.astimezone(zone).date())
    return days


def state_dir_of(settings: Settings) -> Path:
    return settings.collector.state_dir
