"""No token, client secret or Authorization header ever reaches a log line or error message.

A canary token is pushed through every path that handles it (config, refresh, rotation, 401,
rate limiting, transport errors, stdlib library logging at debug) while all output is captured.
"""

from __future__ import annotations

import io
import logging

import httpx
import pytest

from collector.cli import main
from collector.log import configure_logging, get_logger, redact_text, register_secret
from collector.source import FleetClient, TokenManager
from tests.support.fleet import FleetMock, Scripted

CANARY_ACCESS = "CANARY-access-7f3a9c1e5b"
CANARY_REFRESH = "CANARY-refresh-2d8e4f6a0c"
CANARY_SECRET = "CANARY-secret-9b1c3e5d7f"


def test_canary_tokens_absent_from_all_output(tmp_path, capsys, monkeypatch):
    stream = io.StringIO()
    configure_logging("debug", "json", stream=stream)
    mock = FleetMock()
    mock.valid_tokens = set()
    mock.refresh_tokens = {CANARY_REFRESH: 0}
    tokens = TokenManager(auth_url="https://auth.test/oauth2/v3/token", client_id="cid",
                          client_secret=CANARY_SECRET, access_token=CANARY_ACCESS,
                          refresh_token=CANARY_REFRESH, token_file=tmp_path / "t.json",
                          http=httpx.Client(transport=mock.transport))
    client = FleetClient("https://fleet.test", tokens, transport=mock.transport,
                         sleep=lambda s: None)
    client.live_status(1)  # 401 -> refresh -> retry
    mock.script("live_status", Scripted(429, {"error": "slow down"}, {"Retry-After": "1"}))
    client.live_status(1)
    log = get_logger("test")
    log.info("explicit leak attempt", access_token=CANARY_ACCESS,
             headers={"Authorization": f"Bearer {CANARY_ACCESS}"}, note=f"tok={CANARY_SECRET}")
    logging.getLogger("httpx").debug("header Authorization: Bearer %s", CANARY_ACCESS)
    try:
        raise RuntimeError(f"failed with {CANARY_REFRESH}")
    except RuntimeError:
        log.exception("exception with secret")
    # The CLI path: a bad refresh token configured through the environment.
    monkeypatch.setenv("TESLA_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("TESLA_ACCESS_TOKEN", CANARY_ACCESS)
    monkeypatch.setenv("TESLA_MAX_RETRIES", "0")
    monkeypatch.setenv("COLLECTOR_STATE_DIR", str(tmp_path))
    assert main(["--log-format", "json", "sites"]) == 1
    output = stream.getvalue() + "".join(capsys.readouterr())
    for canary in (CANARY_ACCESS, CANARY_REFRESH, CANARY_SECRET):
        assert canary not in output
    assert "explicit leak attempt" in output and "***" in output


@pytest.mark.parametrize(
    "text", ["Authorization: Bearer abc.def-ghi", "Token user:password", "bearer xyz123"]
)
def test_header_shapes_are_masked(text):
    assert redact_text(text).endswith("***")


def test_short_values_are_not_registered():
    register_secret("abc")
    assert redact_text("abc def") == "abc def"


@pytest.mark.parametrize("text", [
    "the token sees 3 energy sites (1, 2, 3); pick one with --site",
    "no Fleet API access token is configured; re-authenticate",
    "token refresh was refused (401 login_required); re-authenticate",
    "token was refused (401 login_required)",
    "a Bearer token is needed; the Token scheme is InfluxDB's",
    "Authorization header missing",
])
def test_prose_about_tokens_reads_as_written(text):
    assert redact_text(text) == text


@pytest.mark.parametrize("text, masked", [
    ("Authorization: Token my-influx-token", "Authorization: Token ***"),
    ("{'Authorization': 'Basic dXNlcjpwYXNz'}", "{'Authorization': 'Basic ***'}"),
    ("Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "Bearer ***"),
    ("Token 0123456789abcdef0123456789", "Token ***"),
])
def test_credential_values_are_masked(text, masked):
    assert redact_text(text) == masked
