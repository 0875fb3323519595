"""One token chain per state dir, against the simulator's rotating single-use refresh tokens.

A second process (``tesla-energy status`` run beside the daemon) rotates the pair in the shared
token file; the daemon must then use that pair instead of refreshing with its consumed refresh
token. A state dir that cannot be written refuses the refresh (exit 1) and keeps the stored
pair usable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from collector.files import write_private_file
from collector.sim import SimServer
from collector.source import FleetClient, TokenManager
from tests.sim.conftest import make_sim

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def one_site_sim():
    with make_sim(sites=1) as server:
        yield server


def _seed_token_file(sim: SimServer, state: Path) -> Path:
    """A token file holding an expired access token and a valid refresh token."""
    path = state / "tokens.json"
    write_private_file(path, json.dumps({"access_token": "expired-at", "expires_at": 1.0,
                                         "refresh_token": sim.tokens.issue_refresh_token()}))
    return path


def _manager(sim: SimServer, path: Path) -> TokenManager:
    return TokenManager(auth_url=sim.auth_url, client_id="cid", token_file=path)


def _cli(sim: SimServer, state: Path, *args: str, wrap: list[str] | None = None
         ) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TESLA_", "COLLECTOR_", "INFLUX_"))}
    env.update(TESLA_API_URL=sim.base_url, TESLA_AUTH_URL=sim.auth_url, TESLA_CLIENT_ID="cid",
               COLLECTOR_STATE_DIR=str(state), TESLA_MAX_RETRIES="0")
    command = [*(wrap or []), sys.executable, "-m", "collector", *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)


def test_status_beside_the_daemon_does_not_break_its_token_chain(one_site_sim, tmp_path):
    sim = one_site_sim
    path = _seed_token_file(sim, tmp_path)
    daemon = _manager(sim, path)  # loaded the pair before status ran
    status = _cli(sim, tmp_path, "status")
    assert status.returncode == 0, status.stderr
    assert sim.requests.count("oauth_token", 200) == 1
    with FleetClient(sim.base_url, daemon, max_retries=0) as fleet:
        # Its access token has expired: the status process already rotated the refresh
        # token it holds, so it must take the file's pair, not send the consumed one.
        assert fleet.live_status(sim.site_ids[0])["timestamp"]
        assert sim.requests.count("oauth_token", 401) == 0
        # A later refresh continues the same chain (and the file follows it).
        daemon.rejected(daemon.access_token())
    assert sim.requests.count("oauth_token", 200) == 2
    assert sim.requests.count("oauth_token", 401) == 0
    assert json.loads(path.read_text())["refresh_token"] == daemon._tokens.refresh_token
    again = _cli(sim, tmp_path, "status")
    assert again.returncode == 0, again.stderr


def test_concurrent_refreshes_in_two_managers_rotate_once(sim, tmp_path):
    path = _seed_token_file(sim, tmp_path)
    managers = [_manager(sim, path) for _ in range(2)]
    results: list[str] = []
    errors: list[Exception] = []

    def use(manager: TokenManager) -> None:
        try:
            results.append(manager.access_token())
        except Exception as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=use, args=(m,)) for m in managers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sim.requests.count("oauth_token") == 1
    assert len(set(results)) == 1


def _read_only_wrapper(directory: Path) -> list[str] | None:
    """``unshare`` a private mount namespace with ``directory`` bind-mounted read-only."""
    if not shutil.which("unshare"):
        return None
    mount = (f"mount --bind '{directory}' '{directory}' && "
             f"mount -o remount,bind,ro '{directory}' && exec \"$@\"")
    wrap = ["unshare", "-rm", "sh", "-c", mount, "sh"]
    probe = subprocess.run([*wrap, "sh", "-c", f"! touch '{directory}/.probe'"],
                           capture_output=True, timeout=30)
    return wrap if probe.returncode == 0 else None


def test_read_only_state_dir_refuses_to_refresh_and_keeps_a_usable_pair(one_site_sim,
                                                                          tmp_path):
    sim = one_site_sim
    path = _seed_token_file(sim, tmp_path)
    before = path.read_text()
    wrap = _read_only_wrapper(tmp_path)
    if wrap is None:
        pytest.skip("this machine cannot mount a read-only bind mount (unshare -rm)")
    result = _cli(sim, tmp_path, "status", wrap=wrap)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot be saved" in lines[0] and "Read-only file system" in lines[0]
    assert "Traceback" not in result.stderr
    assert sim.requests.count("oauth_token") == 0
    assert path.read_text() == before
    stored = json.loads(before)["refresh_token"]
    refreshed = httpx.post(sim.auth_url, data={"grant_type": "refresh_token",
                                               "client_id": "cid", "refresh_token": stored})
    assert refreshed.status_code == 200
