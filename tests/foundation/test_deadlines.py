"""Deadlines, not just timeouts (issue 11 part 2, issue 10 part 4): a server trickling bytes,
an unreachable API, a Retry-After beyond the limit and a wrong API path each end a one-shot
command with one line and the right exit code; waits between attempts end on ``cancel()``."""

from __future__ import annotations

import json
import re
import socket
import threading
import time

import httpx
import pytest

from collector import source
from collector.cli import main
from collector.errors import NotFound, RateLimited, RetryAfterTooLong, TransientError, WrongApiUrl
from collector.source import FleetClient, TokenManager
from tests.support.badserver import answering, trickling

SITE = 1


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> pytest.MonkeyPatch:
    monkeypatch.setenv("TESLA_ACCESS_TOKEN", "access-token-1")
    monkeypatch.setenv("TESLA_SITE_IDS", str(SITE))
    monkeypatch.setenv("TESLA_TIME_ZONE", "America/Los_Angeles")
    monkeypatch.setenv("COLLECTOR_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("COLLECTOR_LOG_FORMAT", "json")
    for name in ("TESLA_REFRESH_TOKEN", "TESLA_CLIENT_ID", "COLLECTOR_CONFIG",
                 "TESLA_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _fail(argv: list[str], capsys) -> tuple[int, list[str]]:
    code = main(argv)
    errors = [line for line in capsys.readouterr().err.splitlines()
              if line.startswith("tesla-energy:")]
    return code, errors


def _client(url: str, **kwargs) -> FleetClient:
    tokens = TokenManager(auth_url="https://auth.test/oauth2/v3/token", client_id="",
                          access_token="access-token-1", http=httpx.Client())
    return FleetClient(url, tokens, jitter=lambda: 0.0, **kwargs)


# --- a server trickling bytes -----------------------------------------------------------------

def test_trickled_answer_is_cut_at_the_request_deadline_in_status(env, capsys) -> None:
    with trickling() as url:
        env.setenv("TESLA_API_URL", url)
        env.setenv("TESLA_REQUEST_DEADLINE_SECONDS", "0.5")
        env.setenv("TESLA_MAX_RETRIES", "0")
        code, errors = _fail(["status", "--site", str(SITE)], capsys)
    assert (code, errors) == (1, [
        f"tesla-energy: error: live_status: no complete answer within 0.5 s from "
        f"{url}/api/1/energy_sites/{SITE}/live_status"])


def test_trickled_answers_fail_run_once_with_one_line(env, capsys) -> None:
    with trickling() as url:
        env.setenv("TESLA_API_URL", url)
        env.setenv("TESLA_REQUEST_DEADLINE_SECONDS", "0.5")
        env.setenv("TESLA_MAX_RETRIES", "0")
        code, errors = _fail(["run", "--once", "--dry-run"], capsys)
    assert code == 1 and len(errors) == 1
    assert (f"live:{SITE}: live_status: no complete answer within 0.5 s from "
            f"{url}/api/1/energy_sites/{SITE}/live_status") in errors[0]


def test_deadline_covers_every_retry_attempt_and_counts_as_transient() -> None:
    with trickling() as url:
        client = _client(url, request_deadline=0.3, max_retries=1, sleep=lambda _s: None)
        with pytest.raises(TransientError, match=r"no complete answer within 0\.3 s"):
            client.live_status(SITE)
    stats = client.metrics.totals()["live_status"]
    assert (stats.requests, stats.errors) == (2, 2)


# --- an unreachable API -----------------------------------------------------------------------

def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_one_shot_client_stops_retrying_after_its_window() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    sleeps: list[float] = []
    closed = _client(url, retry_window=0.0, sleep=sleeps.append)
    with pytest.raises(TransientError, match=re.escape(f"cannot reach {url}")):
        closed.products()
    assert sleeps == []  # the window is over: no backoff, no further attempt
    daemon = _client(url, retry_window=None, sleep=sleeps.append)
    with pytest.raises(TransientError):
        daemon.products()
    assert len(sleeps) == 4  # the daemon's client keeps its retries


def test_unreachable_api_ends_run_once_naming_the_url(env, capsys, monkeypatch) -> None:
    monkeypatch.setattr(source, "ONE_SHOT_RETRY_WINDOW", 1.0)  # 10 s in the product
    url = f"http://127.0.0.1:{_closed_port()}"
    env.setenv("TESLA_API_URL", url)
    code, errors = _fail(["run", "--once", "--dry-run"], capsys)
    assert code == 1 and len(errors) == 1
    assert f"live:{SITE}: live_status: cannot reach {url} (ConnectError)" in errors[0]


# --- Retry-After beyond the limit ------------------------------------------------------------

_RATE_LIMITED = json.dumps({"response": None, "error": "rate limited"}).encode()


@pytest.mark.parametrize("argv", [["status", "--site", str(SITE)], ["run", "--once",
                                                                    "--dry-run"]])
def test_retry_after_beyond_the_limit_ends_one_shot_command_saying_when(env, capsys,
                                                                        argv) -> None:
    with answering(429, _RATE_LIMITED, {"Retry-After": "3600"}) as url:
        env.setenv("TESLA_API_URL", url)
        code, errors = _fail(argv, capsys)
    assert code == 1 and len(errors) == 1
    pattern = (r"tesla-energy: error: (live_status|site_info): HTTP 429 rate limited: the "
               r"Fleet API asks to wait 3600 s, longer than 900 s; try again after "
               r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S* ?\(local time, in 3600 s\)")
    assert re.fullmatch(pattern, errors[0]), errors[0]


def test_run_once_exits_1_when_every_request_was_rate_limited(env, capsys) -> None:
    with answering(429, _RATE_LIMITED, {"Retry-After": "0"}) as url:
        env.setenv("TESLA_API_URL", url)
        env.setenv("TESLA_MAX_RETRIES", "1")
        code, errors = _fail(["run", "--once", "--dry-run"], capsys)
    assert code == 1
    assert errors == ["tesla-energy: error: site_info: HTTP 429 rate limited (rate limited; "
                      "retry after 0 s)"]


def test_retry_after_limit_is_configurable_and_skips_the_limiter_pause() -> None:
    from collector.source import RateLimiter

    limiter = RateLimiter(100.0)
    with answering(429, _RATE_LIMITED, {"Retry-After": "120"}) as url:
        client = _client(url, retry_after_limit=60.0, limiter=limiter)
        with pytest.raises(RetryAfterTooLong) as info:
            client.live_status(SITE)
    assert info.value.retry_after == 120
    assert limiter._reserve() < 1.0  # no pause of 120 s held over the other callers


# --- cancellable waits ------------------------------------------------------------------------

def test_cancel_ends_a_retry_after_sleep_at_once() -> None:
    with answering(429, _RATE_LIMITED, {"Retry-After": "60"}) as url:
        client = _client(url, max_retry_wait=120.0)
        sibling = client.with_limiter(source.RateLimiter(100.0))
        errors: list[BaseException] = []

        def call() -> None:
            try:
                sibling.live_status(SITE)
            except RateLimited as exc:  # pragma: no cover - would mean no wait at all
                errors.append(exc)
            except TransientError as exc:
                errors.append(exc)

        worker = threading.Thread(target=call)
        worker.start()
        while not client.metrics.totals().get("live_status"):
            time.sleep(0.01)
        client.cancel()  # the sibling shares the cancellation
        worker.join(10)
    assert not worker.is_alive()
    assert [str(e) for e in errors] == ["live_status: not retried: the collector is stopping"]


# --- a wrong API path ------------------------------------------------------------------------

def test_wrong_api_base_path_names_tesla_api_url(env, capsys) -> None:
    with answering(404, json.dumps({"response": None, "error": "not_found",
                                    "error_description": ""}).encode()) as url:
        env.setenv("TESLA_API_URL", url + "/api/1")
        env.delenv("TESLA_SITE_IDS")
        code, errors = _fail(["sites"], capsys)
    assert (code, errors) == (2, [
        f"tesla-energy: error: products: HTTP 404 not_found from {url}/api/1/api/1/products: "
        f"no such API path; TESLA_API_URL ({url}/api/1) looks wrong: set it to the Fleet API "
        "base URL alone, e.g. https://fleet-api.prd.na.vn.cloud.tesla.com (no path)"])


def test_404_page_that_is_not_a_fleet_error_names_the_url_not_the_site_id() -> None:
    page = answering(404, b"404 page not found\n", {"Content-Type": "text/plain"})
    with page as url, pytest.raises(WrongApiUrl) as info:
        _client(url).live_status(SITE)
    assert str(info.value) == (
        f"live_status: HTTP 404 from {url}/api/1/energy_sites/{SITE}/live_status: no such API "
        f"path; TESLA_API_URL ({url}) looks wrong: set it to the Fleet API base URL alone, "
        "e.g. https://fleet-api.prd.na.vn.cloud.tesla.com (no path)")
    assert info.value.exit_code == 2


def test_404_with_the_fleet_error_for_a_site_still_says_site_id() -> None:
    body = json.dumps({"response": None, "error": "not_found", "error_description": ""})
    with answering(404, body.encode()) as url, pytest.raises(NotFound) as info:
        _client(url).site_info(SITE)
    assert not isinstance(info.value, WrongApiUrl)
    assert str(info.value) == "site_info: HTTP 404 not_found (unknown or stale site id?)"
