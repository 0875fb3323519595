"""FleetClient: envelope, status -> error mapping, retries, Retry-After, endpoints."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from collector.errors import (
    AuthRequired,
    InvalidResponse,
    NotFound,
    RateLimited,
    RequestRejected,
    TransientError,
)
from collector.source import FleetClient, RateLimiter, TokenManager, parse_retry_after
from tests.support.fleet import FleetMock, Scripted

SITE = 2252179231


def make_client(mock: FleetMock, **kwargs) -> tuple[FleetClient, list[float]]:
    sleeps: list[float] = []
    tokens = TokenManager(auth_url="https://auth.test/oauth2/v3/token", client_id="",
                          access_token="access-token-abc123", http=httpx.Client(
                              transport=mock.transport))
    client = FleetClient("https://fleet.test", tokens, transport=mock.transport,
                         sleep=sleeps.append, jitter=lambda: 0.0, **kwargs)
    return client, sleeps


def test_products_unwraps_envelope_and_skips_vehicles():
    mock = FleetMock()
    client, _ = make_client(mock)
    sites = client.products()
    assert [s["energy_site_id"] for s in sites] == [SITE]


def test_live_status_sends_bearer_token_and_returns_response():
    mock = FleetMock()
    client, _ = make_client(mock)
    live = client.live_status(SITE)
    assert live["timestamp"] == "2024-05-12T00:18:19-07:00"
    request = mock.calls("live_status")[0]
    assert request.headers["Authorization"] == "Bearer access-token-abc123"
    assert request.url.path == f"/api/1/energy_sites/{SITE}/live_status"


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"response": None, "error": "invalid period"}, RequestRejected),
        (402, {"response": None, "error": "payment required"}, RequestRejected),
        (403, {"response": None, "error": "Unauthorized missing scopes"}, AuthRequired),
        (404, {"response": None, "error": "not found"}, NotFound),
        (412, {"response": None, "error": "must be registered in the current region"},
         RequestRejected),
        (421, {"response": None, "error": "wrong region"}, RequestRejected),
        (401, {"response": None, "error": "login_required"}, AuthRequired),
    ],
)
def test_status_maps_to_error_type_without_retry(status, body, error):
    mock = FleetMock()
    client, sleeps = make_client(mock)
    mock.script("site_info", Scripted(status, body))
    with pytest.raises(error) as info:
        client.site_info(SITE)
    assert info.value.status == status
    assert f"HTTP {status}" in str(info.value)
    assert len(mock.calls("site_info")) == 1 and sleeps == []


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_transient_statuses_are_retried_then_raised(status):
    mock = FleetMock()
    client, sleeps = make_client(mock, max_retries=2)
    mock.script("live_status", *[Scripted(status, {"response": None, "error": "x"})] * 3)
    with pytest.raises(TransientError):
        client.live_status(SITE)
    assert len(mock.calls("live_status")) == 3
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] > 0


def test_transient_error_then_success_returns_data():
    mock = FleetMock()
    client, sleeps = make_client(mock)
    mock.script("live_status", Scripted(503, {"response": None, "error": "upstream"}))
    assert client.live_status(SITE)["battery_power"] == 780
    assert len(sleeps) == 1
    assert client.metrics.totals()["live_status"].errors == 1


def test_429_waits_retry_after_then_succeeds():
    mock = FleetMock()
    client, sleeps = make_client(mock)
    mock.script("live_status", Scripted(429, {"response": None, "error": "rate limited"},
                                        {"Retry-After": "7"}))
    assert client.live_status(SITE)["grid_status"] == "Active"
    assert sleeps == [7.0]
    assert client.metrics.totals()["live_status"].rate_limited == 1


def test_429_with_long_retry_after_is_raised_for_the_scheduler():
    mock = FleetMock()
    client, sleeps = make_client(mock, max_retry_wait=30)
    mock.script("live_status", Scripted(429, {"error": "rate limited"}, {"Retry-After": "300"}))
    with pytest.raises(RateLimited) as info:
        client.live_status(SITE)
    assert info.value.retry_after == 300 and sleeps == []


def test_429_pauses_shared_rate_limiter():
    now = [1000.0]
    waits: list[float] = []
    limiter = RateLimiter(100, clock=lambda: now[0], sleep=waits.append)
    mock = FleetMock()
    client, _ = make_client(mock, limiter=limiter)
    mock.script("live_status", Scripted(429, {"error": "x"}, {"Retry-After": "5"}))
    client.live_status(SITE)
    # The retry went through the limiter, which held it for Retry-After.
    assert any(w >= 5.0 for w in waits)


def test_timeout_is_transient_and_retried():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json={"response": {"ok": True}})

    tokens = TokenManager(auth_url="https://a.test/t", client_id="", access_token="tok-12345678")
    client = FleetClient("https://fleet.test", tokens, transport=httpx.MockTransport(handler),
                         sleep=lambda s: None)
    assert client.live_status(SITE) == {"ok": True}
    assert len(calls) == 2


def test_connection_error_message_names_host_not_token():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    tokens = TokenManager(auth_url="https://a.test/t", client_id="", access_token="tok-secret-99")
    client = FleetClient("https://fleet.test", tokens, transport=httpx.MockTransport(handler),
                         sleep=lambda s: None, max_retries=1)
    with pytest.raises(TransientError) as info:
        client.products()
    assert "fleet.test" in str(info.value) and "tok-secret-99" not in str(info.value)


@pytest.mark.parametrize(
    "body", [b"{not json", b'{"response": {"solar_power": 1', b'{"error": "no envelope"}', b"[]"]
)
def test_malformed_answers_are_invalid_response(body):
    mock = FleetMock()
    client, sleeps = make_client(mock)
    mock.script("live_status", Scripted(200, body))
    with pytest.raises(InvalidResponse):
        client.live_status(SITE)
    assert sleeps == []


def test_live_status_that_is_not_an_object_is_invalid():
    mock = FleetMock()
    client, _ = make_client(mock)
    mock.script("live_status", Scripted(200, {"response": None}))
    with pytest.raises(InvalidResponse):
        client.live_status(SITE)


def test_calendar_history_sends_local_offsets_and_drops_empty_zone():
    mock = FleetMock()
    client, _ = make_client(mock)
    mock.script("calendar_history", Scripted(200, {"response": {"time_series": []}}))
    zone = ZoneInfo("America/Los_Angeles")
    start = datetime(2024, 11, 3, tzinfo=zone)
    end = datetime(2024, 11, 3, 23, 59, 59, tzinfo=zone)
    client.calendar_history(SITE, "energy", start, end, "day", "")
    params = mock.calls("calendar_history")[0].url.params
    assert params["start_date"] == "2024-11-03T00:00:00-07:00"
    assert params["end_date"] == "2024-11-03T23:59:59-08:00"
    assert params["kind"] == "energy" and params["period"] == "day"
    assert "time_zone" not in params


def test_naive_datetimes_are_refused():
    mock = FleetMock()
    client, _ = make_client(mock)
    with pytest.raises(ValueError):
        client.calendar_history(SITE, "energy", datetime(2024, 1, 1), datetime(2024, 1, 2))


def test_commands_post_the_documented_bodies():
    mock = FleetMock()
    client, _ = make_client(mock)
    for name in ("backup", "operation", "storm_mode", "grid_import_export",
                 "off_grid_vehicle_charging_reserve", "time_of_use_settings"):
        mock.script(name, Scripted(200, {"response": {"code": 201, "message": "Updated"}}))
    client.backup(SITE, 30)
    client.operation(SITE, "autonomous")
    client.storm_mode(SITE, False)
    client.grid_import_export(SITE, customer_preferred_export_rule="never")
    client.off_grid_vehicle_charging_reserve(SITE, 15)
    client.time_of_use_settings(SITE, {"currency": "USD"})
    bodies = {r.url.path.rsplit("/", 1)[-1]: r.content for r in mock.requests}
    assert bodies["backup"] == b'{"backup_reserve_percent":30}'
    assert bodies["operation"] == b'{"default_real_mode":"autonomous"}'
    assert bodies["storm_mode"] == b'{"enabled":false}'
    assert bodies["grid_import_export"] == b'{"customer_preferred_export_rule":"never"}'
    assert bodies["off_grid_vehicle_charging_reserve"] == (
        b'{"off_grid_vehicle_charging_reserve_percent":15}')
    assert bodies["time_of_use_settings"] == (
        b'{"tou_settings":{"tariff_content_v2":{"currency":"USD"}}}')
    assert all(r.method == "POST" for r in mock.requests)


def test_retry_after_parsing():
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(None) == 10.0
    assert parse_retry_after("garbage") == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412500.0) == 10.0


def test_metrics_count_requests_and_latency_per_endpoint():
    mock = FleetMock()
    client, _ = make_client(mock)
    client.live_status(SITE)
    client.live_status(SITE)
    client.site_info(SITE)
    totals = client.metrics.totals()
    assert totals["live_status"].requests == 2 and totals["site_info"].requests == 1
    window = client.metrics.take_window()
    assert window["live_status"].latency_ms_total >= 0
    assert client.metrics.take_window() == {}


def test_sibling_client_has_its_own_budget_but_shares_tokens_and_metrics():
    mock = FleetMock()
    client, _ = make_client(mock)
    waits: list[float] = []
    limiter = RateLimiter(1, clock=lambda: 0.0, sleep=waits.append)
    sibling = client.with_limiter(limiter)
    assert sibling.tokens is client.tokens and sibling.metrics is client.metrics
    sibling.live_status(SITE)
    sibling.live_status(SITE)
    client.live_status(SITE)  # the original stays unthrottled
    assert waits == [1.0]
    assert client.metrics.totals()["live_status"].requests == 3


def test_cancelled_limiter_wakes_waiting_callers_and_refuses_new_ones():
    import threading
    import time

    limiter = RateLimiter(0.01)  # one request per 100 s
    limiter.acquire()  # the burst token
    failures: list[Exception] = []

    def wait_for_turn():
        try:
            limiter.acquire()
        except TransientError as exc:
            failures.append(exc)

    waiter = threading.Thread(target=wait_for_turn)
    started = time.monotonic()
    waiter.start()
    time.sleep(0.1)
    limiter.cancel()
    waiter.join(5)
    assert not waiter.is_alive() and time.monotonic() - started < 5
    assert len(failures) == 1 and "stopping" in str(failures[0])
    with pytest.raises(TransientError):
        limiter.acquire()


def test_every_answer_below_500_is_billable_and_5xx_or_429_retries_count_as_sent():
    mock = FleetMock()
    client, _ = make_client(mock, max_retries=3)
    mock.script("live_status", Scripted(503, {"response": None, "error": "upstream"}),
                Scripted(429, {"response": None, "error": "slow down"}, {"Retry-After": "1"}))
    client.live_status(SITE)  # 503 (not billed), 429 (billed), 200 (billed)
    mock.script("site_info", Scripted(404, {"response": None, "error": "not found"}))
    with pytest.raises(NotFound):
        client.site_info(SITE)  # 404: billed
    totals = client.metrics.totals()
    assert (totals["live_status"].requests, totals["live_status"].billable) == (3, 2)
    assert (totals["site_info"].requests, totals["site_info"].billable) == (1, 1)


def test_cookies_are_parsed_only_from_answers_that_set_one(monkeypatch):
    """httpx hands every answer to http.cookiejar (0.1 ms a request); the client skips that
    for answers without Set-Cookie, and a cookie that is set is still kept and sent back."""
    import http.cookiejar

    from tests.support.fleet import fleet_transport, load_payload

    parsed: list[str] = []
    original = http.cookiejar.CookieJar.extract_cookies

    def counting(jar, response, request):
        parsed.append(request.get_full_url())
        return original(jar, response, request)

    monkeypatch.setattr(http.cookiejar.CookieJar, "extract_cookies", counting)
    live = load_payload("live_status_pypowerwall")
    requests: list[httpx.Request] = []
    answers = iter([httpx.Response(200, json=live, headers={"Set-Cookie": "lb=node7; Path=/"}),
                    httpx.Response(200, json=live), httpx.Response(200, json=live)])
    path = f"/api/1/energy_sites/{SITE}/live_status"
    transport = fleet_transport({path: lambda request: next(answers)}, requests)
    tokens = TokenManager(auth_url="https://auth.test/oauth2/v3/token", client_id="",
                          access_token="access-token-abc123")
    client = FleetClient("https://fleet.test", tokens, transport=transport,
                         sleep=lambda _: None, jitter=lambda: 0.0)
    for _ in range(3):
        assert client.live_status(SITE)["timestamp"] == live["response"]["timestamp"]
    assert len(parsed) == 1  # only the answer that set a cookie
    assert [r.headers.get("Cookie") for r in requests] == [None, "lb=node7", "lb=node7"]
