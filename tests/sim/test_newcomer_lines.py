"""One exact line and exit code for the mistakes a new user makes first: messages name the
problem and what to do, and secret masking never eats the words around "token"."""

from __future__ import annotations

import socket

import pytest

from collector.cli import main
from collector.sim import SimServer
from collector.source.tokens import REAUTH_HINT


@pytest.fixture
def env(sim: SimServer, monkeypatch: pytest.MonkeyPatch, tmp_path) -> SimServer:
    monkeypatch.setenv("TESLA_API_URL", sim.base_url)
    monkeypatch.setenv("TESLA_AUTH_URL", sim.auth_url)
    monkeypatch.setenv("TESLA_ACCESS_TOKEN", "sim-access-token-1")
    monkeypatch.setenv("COLLECTOR_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("COLLECTOR_LOG_FORMAT", "json")
    for name in ("TESLA_REFRESH_TOKEN", "TESLA_CLIENT_ID", "TESLA_SITE_IDS", "COLLECTOR_CONFIG",
                 "TESLA_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    return sim


def _fail(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err.strip().splitlines()[-1]


def test_many_sites_line_reads_as_written(env: SimServer, capsys) -> None:
    ids = ", ".join(map(str, env.site_ids))
    assert _fail(["status"], capsys) == (
        2, f"tesla-energy: error: the token sees 3 energy sites ({ids}); pick one with --site")


def test_no_token_line_reads_as_written(env: SimServer, monkeypatch, capsys) -> None:
    monkeypatch.delenv("TESLA_ACCESS_TOKEN")
    assert _fail(["sites"], capsys) == (
        2, f"tesla-energy: error: no Fleet API access token is configured; {REAUTH_HINT}")


def test_refused_refresh_line_reads_as_written(env: SimServer, monkeypatch, capsys) -> None:
    monkeypatch.delenv("TESLA_ACCESS_TOKEN")
    used = env.tokens.issue_refresh_token()
    env.tokens.refresh({"grant_type": "refresh_token", "client_id": "c", "refresh_token": used})
    monkeypatch.setenv("TESLA_REFRESH_TOKEN", used)
    monkeypatch.setenv("TESLA_CLIENT_ID", "client-id-1")
    code, line = _fail(["sites"], capsys)
    assert code == 1 and "***" not in line
    assert line.startswith(
        f"tesla-energy: error: token refresh was refused (401 login_required); {REAUTH_HINT}")
    # The token file holds the refused refresh token (saved by the write check before the
    # refresh), so deleting it loses nothing; the advice says why.
    assert line.endswith("the refresh token it holds was just refused, so it has no usable "
                         "pair left")


def test_demo_port_in_use_is_one_line(env: SimServer, capsys) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert _fail(["demo", "--port", str(port)], capsys) == (
            2, f"tesla-energy: error: cannot listen on 127.0.0.1:{port}: the port is already "
               "in use; pick another --port (0 = a free one)")


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_demo_port_out_of_range_is_one_line(port: str, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["demo", "--port", port])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"tesla-energy demo: error: argument --port: {port!r} is not a TCP port 0-65535 "
        "(0 = a free one)")


def test_simulate_invalid_host_says_address_not_port(capsys) -> None:
    assert _fail(["simulate", "--host", "999.1.1.1", "--port", "0"], capsys) == (
        2, "tesla-energy: error: cannot listen on 999.1.1.1: not a valid address of this "
           "machine; use 127.0.0.1 (or 0.0.0.0 for every interface) with --host")
