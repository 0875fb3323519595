"""CLI: sites and status against a Fleet-API-compatible server, exit codes, one-line errors."""

from __future__ import annotations

import httpx
import pytest

import collector.source as source
from collector.cli import main
from collector.commands.status import format_status
from tests.support.fleet import FleetMock, Scripted, load_payload

SITE = "2252179231"


@pytest.fixture
def mock(monkeypatch, tmp_path):
    """Route every client the CLI builds through the mock transport."""
    fake = FleetMock()
    real_build = source.build_client

    def build(settings, **kwargs):
        kwargs["transport"] = fake.transport
        return real_build(settings, **kwargs)

    monkeypatch.setattr("collector.source.build_client", build)  # commands import it late
    monkeypatch.setenv("TESLA_API_URL", "http://fleet.test")
    monkeypatch.setenv("TESLA_ACCESS_TOKEN", "cli-token-123456")
    monkeypatch.setenv("TESLA_MAX_RETRIES", "1")
    monkeypatch.setenv("COLLECTOR_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("COLLECTOR_CONFIG", raising=False)
    return fake


def test_sites_lists_energy_sites_only(mock, capsys):
    assert main(["sites"]) == 0
    out = capsys.readouterr().out
    assert SITE in out and "Home Energy" in out and "5YJ3" not in out


def test_status_shows_power_flow_and_settings(mock, capsys):
    assert main(["status", "--site", SITE]) == 0
    out = capsys.readouterr().out
    assert "Battery" in out and "0.78 kW" in out
    assert "backup reserve 20 %" in out and "storm mode on" in out
    assert "export pv_only" in out and "grid charging on" in out


def test_status_picks_the_only_site(mock, capsys):
    assert main(["status"]) == 0
    assert mock.calls("products")


@pytest.mark.parametrize(
    ("status", "headers", "fragment"),
    [
        (401, {}, "re-authenticate"),
        (429, {"Retry-After": "0"}, "rate limited"),
        (503, {}, "HTTP 503"),
    ],
)
def test_api_failures_print_one_line_exit_1(mock, capsys, status, headers, fragment):
    body = {"response": None, "error": "login_required" if status == 401 else "x"}
    mock.script("products", *[Scripted(status, body, headers)] * 3)
    assert main(["sites"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err and "Traceback" not in err


def test_bad_config_exits_2_naming_key(monkeypatch, capsys):
    monkeypatch.setenv("COLLECTOR_LIVE_INTERVAL", "-1")
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    assert "intervals.live_seconds" in err and len(err.strip().splitlines()) == 1


def test_bad_site_argument_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["status", "--site", "abc"])
    assert info.value.code == 2


def test_check_config_makes_no_network_call(monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise AssertionError("network used")

    monkeypatch.setattr(httpx.Client, "send", refuse)
    monkeypatch.setenv("TESLA_API_URL", "eu")
    monkeypatch.setenv("TESLA_ACCESS_TOKEN", "cli-token-123456")
    assert main(["check-config"]) == 0
    assert "fleet-api.prd.eu" in capsys.readouterr().out


def test_format_status_handles_sparse_live_status():
    live = load_payload("live_status_pypowerwall")["response"]
    live.pop("generator_power")
    live["wall_connectors"] = None
    lines = format_status(live, {"site_name": "X", "id": 1})
    assert not any("Generator" in line for line in lines)
