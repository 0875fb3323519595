"""Sharding (``COLLECTOR_SHARD=i/n``): an exact, stable partition of the fleet; a replica
requests only its own shard's sites and keeps its own state directory and request budget."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from collector import app
from collector.cli import main
from collector.config import Secret, TeslaSettings, load_settings
from collector.shard import Shard, parse_shard, shard_of
from collector.sim import SimConfig, SimServer

FLEET = [1_000_000_000_000 + 7919 * k for k in range(600)]


@pytest.mark.parametrize("count", [1, 2, 3, 5, 16])
def test_n_shards_partition_the_fleet_exactly(count):
    shards = [Shard(i, count).select(FLEET) for i in range(count)]
    flat = [site for shard in shards for site in shard]
    assert sorted(flat) == sorted(FLEET)  # every site in exactly one shard
    assert len(flat) == len(set(flat))
    if count > 1:  # and the hash spreads them: no shard empty or holding most of the fleet
        assert all(len(FLEET) / count / 2 < len(s) < len(FLEET) / count * 2 for s in shards)


def test_adding_sites_moves_no_existing_site():
    before = {site: shard_of(site, 4) for site in FLEET[:300]}
    grown = FLEET[:300] + [42, 7, 123456789] + FLEET[300:]
    assert {site: shard_of(site, 4) for site in grown if site in before} == before


def test_assignment_is_stable_across_processes():
    """Another interpreter with another hash seed (a restart) computes the same shards."""
    code = ("from collector.shard import shard_of; import sys; "
            "print(','.join(str(shard_of(int(s), 3)) for s in sys.argv[1:]))")
    sample = [str(s) for s in FLEET[:50]]
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code, *sample], env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
    assert out.split(",") == [str(shard_of(int(s), 3)) for s in sample]


@pytest.mark.parametrize(("raw", "expected"), [
    ("0/1", Shard(0, 1)), ("2/3", Shard(2, 3)), (" 0 / 4 ", Shard(0, 4)), ("", Shard()),
])
def test_parse_shard(raw, expected):
    assert parse_shard(raw) == expected


@pytest.mark.parametrize(("raw", "message"), [
    ("3/3", "indexes of 3 replicas are 0 to 2"),
    ("1/0", "replica count n of 1 or more"),
    ("1", '"i/n"'), ("a/b", '"i/n"'), ("-1/3", '"i/n"'), ("١/٣", '"i/n"'),
])
def test_bad_shard_is_one_line_and_exit_2(raw, message, capsys, monkeypatch):
    monkeypatch.setenv("COLLECTOR_SHARD", raw)
    monkeypatch.delenv("COLLECTOR_CONFIG", raising=False)
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err.strip()
    assert "COLLECTOR_SHARD" in err and message in err
    assert len(err.splitlines()) == 1


def test_replica_gets_its_own_state_dir_and_part_of_the_budget(tmp_path: Path):
    env = {"COLLECTOR_STATE_DIR": str(tmp_path), "COLLECTOR_BACKFILL_RATE": "12",
           "COLLECTOR_SHARD": "1/3"}
    settings = load_settings(environ=env)
    assert settings.collector.state_dir == tmp_path / "shard-1-of-3"
    assert settings.token_file == tmp_path / "shard-1-of-3" / "tokens.json"
    assert settings.backfill.requests_per_second == pytest.approx(4.0)
    own = load_settings(environ={**env, "COLLECTOR_BACKFILL_RATE_PER_REPLICA": "true"})
    assert own.backfill.requests_per_second == pytest.approx(12.0)
    single = load_settings(environ={**env, "COLLECTOR_SHARD": "0/1"})
    assert single.collector.state_dir == tmp_path
    assert single.backfill.requests_per_second == pytest.approx(12.0)


@pytest.fixture
def fleet_sim():
    with SimServer(SimConfig(sites=8, seed=3)) as server:
        yield server


def replica_settings(base, sim: SimServer, shard: Shard):
    tesla = TeslaSettings(api_url=sim.base_url, auth_url=sim.auth_url,
                          access_token=Secret("shard-test-token"), max_retries=1)
    collector = dataclasses.replace(base.collector, shard=shard,
                                    state_dir=base.collector.state_dir / shard.directory_name)
    return dataclasses.replace(base, tesla=tesla, collector=collector)


@pytest.mark.integration
def test_each_replica_requests_only_its_shards_sites(fleet_sim, influx_settings):
    """Two replicas, one cycle each: together they cover the fleet, and neither sends a
    request for a site of the other's shard."""
    seen: list[set[int]] = []
    for index in range(2):
        shard = Shard(index, 2)
        fleet_sim.requests.clear()
        daemon = app.build(replica_settings(influx_settings, fleet_sim, shard),
                           clock=fleet_sim.clock.now)
        try:
            assert {s.site_id for s in daemon.sites} == set(shard.select(fleet_sim.site_ids))
            app.run_once(daemon)
        finally:
            daemon.close()
        requested = {e.site_id for e in fleet_sim.requests.entries() if e.site_id is not None}
        assert requested == set(shard.select(fleet_sim.site_ids))
        seen.append(requested)
    assert seen[0] | seen[1] == set(fleet_sim.site_ids) and not seen[0] & seen[1]


@pytest.mark.integration
def test_sites_command_lists_the_shard(fleet_sim, capsys, monkeypatch):
    shard = Shard(1, 3)
    for key, value in {"TESLA_API_URL": fleet_sim.base_url,
                       "TESLA_ACCESS_TOKEN": "sim-access-token",
                       "COLLECTOR_SHARD": shard.label}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("COLLECTOR_CONFIG", raising=False)
    assert main(["sites"]) == 0
    out = capsys.readouterr().out
    mine = shard.select(fleet_sim.site_ids)
    assert f"shard 1/3: {len(mine)} of the 8 energy sites" in out
    listed = {int(line.split()[0]) for line in out.splitlines()[2:] if line.strip()}
    assert listed == set(mine)


def test_container_healthcheck_reads_the_replicas_own_heartbeat(tmp_path: Path, monkeypatch):
    """``python -m collector.health`` (the image's HEALTHCHECK) looks in the shard's subdir."""
    from collector.health import Health
    from collector.health import main as health_main

    settings = load_settings(environ={"COLLECTOR_STATE_DIR": str(tmp_path),
                                      "COLLECTOR_SHARD": "1/2"})
    health = Health(settings.collector.state_dir, 60.0)
    health.wrote()
    monkeypatch.setenv("COLLECTOR_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("COLLECTOR_SHARD", "0/2")
    assert health_main([]) == 1  # another replica's heartbeat is not this one's
    monkeypatch.setenv("COLLECTOR_SHARD", "1/2")
    assert health_main([]) == 0
