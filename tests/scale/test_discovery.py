"""Site discovery while running: the daemon follows sites added to and removed from the
account (``products`` at the site_info cadence), within its shard."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta

import pytest

from collector import app
from collector.config import IntervalSettings, Secret, TeslaSettings
from collector.shard import Shard
from collector.sim import SimClock, SimConfig, SimServer

START = datetime(2024, 6, 12, 19, 0, tzinfo=UTC)


def _wait_for(condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _settings(base, sim: SimServer, shard: Shard):
    tesla = TeslaSettings(api_url=sim.base_url, auth_url=sim.auth_url,
                          access_token=Secret("discovery-test-token"), max_retries=1)
    return dataclasses.replace(
        base, tesla=tesla, collector=dataclasses.replace(base.collector, shard=shard),
        intervals=IntervalSettings(live_seconds=0.3, site_info_seconds=0.5,
                                   history_seconds=3600))


def _live_requests(sim: SimServer, site_id: int) -> int:
    return sum(1 for e in sim.requests.entries("live_status") if e.site_id == site_id)


@pytest.mark.integration
def test_daemon_starts_and_stops_collecting_sites_of_its_shard(influx_settings):
    config = SimConfig(sites=10, seed=5, clock=SimClock(START, speed=20),
                       installation_date=(START - timedelta(days=1)).date())
    with SimServer(config) as sim:
        # This replica is one of three.
        shard = Shard(2, 3)  # five of the ten simulated sites
        mine = shard.select(sim.site_ids)
        theirs = [s for s in sim.site_ids if not shard.owns(s)]
        assert len(mine) >= 3 and theirs
        late_mine, late_theirs = sim.remove_site(mine[0]), sim.remove_site(theirs[0])
        daemon = app.build(_settings(influx_settings, sim, shard), clock=sim.clock.now)
        assert {s.site_id for s in daemon.sites} == set(mine[1:])
        daemon.schedule()
        daemon.scheduler.start()
        try:
            _wait_for(lambda: _live_requests(sim, mine[1]) >= 1, "first polls")
            sim.add_site(late_mine)
            sim.add_site(late_theirs)
            _wait_for(lambda: _live_requests(sim, mine[0]) >= 2, "the added site's polls")
            assert mine[0] in {s.site_id for s in daemon.sites}

            sim.remove_site(mine[1])
            _wait_for(lambda: mine[1] not in {s.site_id for s in daemon.sites},
                      "the removed site to be dropped")
            time.sleep(0.5)  # a poll already running may still be answered
            after_removal = _live_requests(sim, mine[1])
            time.sleep(1.0)  # three more live intervals
            assert _live_requests(sim, mine[1]) == after_removal
            assert _live_requests(sim, mine[2]) >= 1  # the others go on
            # The other shard's site was seen in products but never requested.
            assert not [e for e in sim.requests.entries() if e.site_id == theirs[0]]
            assert not daemon.collector.tracker.failing.get(f"live:{mine[1]}")
        finally:
            daemon.shutdown()
            daemon.close()
