"""Token refresh with Tesla's single-use refresh tokens, persisted atomically with mode 0600."""

from __future__ import annotations

import json
import os
import stat
import threading

import httpx
import pytest
from structlog.testing import capture_logs

from collector.errors import AuthRequired
from collector.source import FleetClient, TokenManager, write_private_file
from collector.source.tokens import TokenFileUnwritable
from tests.support.fleet import FleetMock

SITE = 2252179231
AUTH_URL = "https://auth.test/oauth2/v3/token"


def manager(mock: FleetMock, tmp_path, **kwargs) -> TokenManager:
    defaults = dict(auth_url=AUTH_URL, client_id="client-1", access_token="stale-access-0000",
                    refresh_token="refresh-0-start", token_file=tmp_path / "tokens.json",
                    http=httpx.Client(transport=mock.transport))
    defaults.update(kwargs)
    return TokenManager(**defaults)


def rotating_mock() -> FleetMock:
    mock = FleetMock()
    mock.valid_tokens = set()
    mock.refresh_tokens = {"refresh-0-start": 0}
    return mock


def test_401_refreshes_once_persists_and_retries(tmp_path):
    mock = rotating_mock()
    tokens = manager(mock, tmp_path)
    client = FleetClient("https://fleet.test", tokens, transport=mock.transport)
    assert client.live_status(SITE)["battery_power"] == 780
    saved = json.loads((tmp_path / "tokens.json").read_text())
    assert saved["refresh_token"] == "refresh-1-plugh"
    assert saved["access_token"] == "access-1-xyzzy"
    assert stat.S_IMODE(os.stat(tmp_path / "tokens.json").st_mode) == 0o600
    auths = [r.headers["Authorization"] for r in mock.calls("live_status")]
    assert auths == ["Bearer stale-access-0000", "Bearer access-1-xyzzy"]


def test_rotated_refresh_token_is_used_next_time_never_the_old_one(tmp_path):
    mock = rotating_mock()
    tokens = manager(mock, tmp_path)
    tokens.rejected("stale-access-0000")
    tokens.rejected("access-1-xyzzy")
    sent = [r.content.decode() for r in mock.calls("oauth_token")]
    assert "refresh_token=refresh-0-start" in sent[0]
    assert "refresh_token=refresh-1-plugh" in sent[1]
    # A restart reads the file, not the (consumed) configured refresh token.
    restarted = manager(mock, tmp_path)
    restarted.rejected("access-2-xyzzy")
    assert "refresh_token=refresh-2-plugh" in mock.calls("oauth_token")[2].content.decode()


def test_reused_refresh_token_asks_to_reauthenticate(tmp_path):
    mock = rotating_mock()
    mock.refresh_tokens["refresh-0-start"] = 1  # already consumed elsewhere
    tokens = manager(mock, tmp_path)
    with pytest.raises(AuthRequired) as info:
        tokens.rejected("stale-access-0000")
    assert "re-authenticate" in str(info.value)
    assert "refresh-0-start" not in str(info.value)


def test_expired_access_token_is_refreshed_before_the_request(tmp_path):
    mock = rotating_mock()
    now = [1_000_000.0]
    write_private_file(tmp_path / "tokens.json", json.dumps(
        {"access_token": "old-access-1111", "refresh_token": "refresh-0-start",
         "expires_at": now[0] + 60}))
    tokens = manager(mock, tmp_path, clock=lambda: now[0])
    assert tokens.access_token() == "access-1-xyzzy"  # within the expiry margin
    assert len(mock.calls("oauth_token")) == 1


def test_concurrent_401s_cause_a_single_refresh(tmp_path):
    mock = rotating_mock()
    tokens = manager(mock, tmp_path)
    client = FleetClient("https://fleet.test", tokens, transport=mock.transport)
    barrier = threading.Barrier(8)
    errors: list[Exception] = []

    def poll():
        barrier.wait()
        try:
            client.live_status(SITE)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=poll) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(mock.calls("oauth_token")) == 1


def test_crash_while_persisting_keeps_previous_file_and_new_tokens_in_memory(tmp_path):
    mock = rotating_mock()
    path = tmp_path / "tokens.json"
    write_private_file(path, json.dumps({"access_token": "stale-access-0000",
                                         "refresh_token": "refresh-0-start"}))
    calls = []

    def flaky_persist(target, text):
        # The write probe before the refresh succeeds; the disk fills before the save.
        calls.append(text)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        write_private_file(target, text)

    tokens = manager(mock, tmp_path, persist=flaky_persist)
    assert tokens.rejected("stale-access-0000") == "access-1-xyzzy"
    # The file was never half-written: still the previous, complete JSON.
    assert json.loads(path.read_text())["refresh_token"] == "refresh-0-start"
    # The next use retries the save, so the rotated refresh token reaches the disk.
    tokens.access_token()
    assert json.loads(path.read_text())["refresh_token"] == "refresh-1-plugh"
    assert len(mock.calls("oauth_token")) == 1


def test_write_private_file_is_atomic_and_private(tmp_path):
    path = tmp_path / "sub" / "tokens.json"
    write_private_file(path, "one")
    write_private_file(path, "two")
    assert path.read_text() == "two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["tokens.json"]


def test_corrupt_token_file_is_not_replaced_silently(tmp_path):
    (tmp_path / "tokens.json").write_text("{garbage")
    with pytest.raises(AuthRequired) as info:
        manager(rotating_mock(), tmp_path)
    assert "tokens.json" in str(info.value)


def test_no_token_at_all_is_auth_required(tmp_path):
    tokens = TokenManager(auth_url=AUTH_URL, client_id="", token_file=tmp_path / "t.json")
    with pytest.raises(AuthRequired):
        tokens.access_token()


def test_jwt_expiry_is_read_from_config_token(tmp_path):
    import base64

    claims = base64.urlsafe_b64encode(json.dumps({"exp": 1_700_000_000}).encode()).rstrip(b"=")
    jwt = f"eyJhbGciOiJIUzI1NiJ9.{claims.decode()}.c2ln"
    mock = rotating_mock()
    tokens = manager(mock, tmp_path, access_token=jwt, clock=lambda: 1_700_000_000.0)
    assert tokens.access_token() == "access-1-xyzzy"


def test_unsavable_token_file_refuses_before_refreshing(tmp_path):
    mock = rotating_mock()
    path = tmp_path / "tokens.json"
    write_private_file(path, json.dumps({"access_token": "stale-access-0000",
                                         "refresh_token": "refresh-0-start"}))

    def full_disk(target, text):
        raise OSError(28, "No space left on device")

    tokens = manager(mock, tmp_path, persist=full_disk)
    with pytest.raises(TokenFileUnwritable, match="No space left on device"):
        tokens.rejected("stale-access-0000")
    assert mock.calls("oauth_token") == []  # the stored refresh token was not consumed
    assert json.loads(path.read_text())["refresh_token"] == "refresh-0-start"


def test_token_file_readable_by_others_is_set_back_to_0600(tmp_path):
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"access_token": "a-1", "refresh_token": "r-1"}))
    os.chmod(path, 0o644)
    with capture_logs() as logs:
        manager(rotating_mock(), tmp_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert any("mode 0600" in entry["event"] for entry in logs)
