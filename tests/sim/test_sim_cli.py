"""The foundation's ``sites`` and ``status`` commands read the simulator; ``simulate`` rejects
bad arguments with exit code 2."""

from __future__ import annotations

import pytest

from collector.cli import main
from collector.sim import SimServer


@pytest.fixture
def env(sim: SimServer, monkeypatch: pytest.MonkeyPatch, tmp_path) -> SimServer:
    monkeypatch.setenv("TESLA_API_URL", sim.base_url)
    monkeypatch.setenv("TESLA_ACCESS_TOKEN", "anything")
    monkeypatch.setenv("COLLECTOR_STATE_DIR", str(tmp_path))
    for name in ("TESLA_REFRESH_TOKEN", "TESLA_SITE_IDS", "COLLECTOR_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return sim


def test_sites_lists_every_energy_site_and_no_vehicle(env: SimServer, capsys) -> None:
    assert main(["sites"]) == 0
    out = capsys.readouterr().out
    for site_id in env.site_ids:
        assert str(site_id) in out
    assert "Sim Home 1" in out and "Sim Model 3" not in out


def test_status_shows_live_power_and_settings(env: SimServer, capsys) -> None:
    site = env.site_ids[0]
    assert main(["status", "--site", str(site)]) == 0
    out = capsys.readouterr().out
    live = env.live_status(site)
    assert "2025-11-20T12:07:30-08:00" in out
    assert f"{live['solar_power'] / 1000:8.2f} kW" in out
    assert "mode self_consumption, backup reserve 20 %" in out  # an integer, as in reality


def test_status_without_site_needs_one_when_several(env: SimServer, capsys) -> None:
    assert main(["status"]) == 2
    assert "pick one with --site" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--port", "99999"], ["--sites", "0"],
                                  ["--time-zone", "Mars/Base"], ["--faults", "error=x"],
                                  ["--latency-ms", "-5"]])
def test_simulate_bad_arguments_exit_2(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["simulate", *argv])
    assert caught.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
