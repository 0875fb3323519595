"""Token rotation and bearer checks, every fault kind driven through the real FleetClient,
and the request log."""

from __future__ import annotations

import contextlib

import httpx
import pytest

from collector.errors import AuthRequired, InvalidResponse, RateLimited, TransientError
from collector.sim import FaultConfig, FaultRule, SimServer, parse_fault_spec
from collector.source import FleetClient, TokenManager
from tests.sim.conftest import client_for, make_sim


def _refresh(sim: SimServer, token: str) -> httpx.Response:
    return httpx.post(sim.auth_url, data={"grant_type": "refresh_token", "client_id": "cid",
                                          "refresh_token": token})


def test_refresh_tokens_rotate_and_reuse_is_login_required(sim: SimServer) -> None:
    first = sim.tokens.issue_refresh_token()
    answer = _refresh(sim, first)
    assert answer.status_code == 200
    body = answer.json()
    assert body["expires_in"] == 28800 and body["refresh_token"] != first
    reused = _refresh(sim, first)
    assert reused.status_code == 401 and reused.json()["error"] == "login_required"
    assert _refresh(sim, body["refresh_token"]).status_code == 200


def test_token_manager_refreshes_against_the_simulator(sim: SimServer) -> None:
    manager = TokenManager(auth_url=sim.auth_url, client_id="cid",
                           refresh_token=sim.tokens.issue_refresh_token())
    with FleetClient(sim.base_url, manager, max_retries=0) as fleet:
        assert fleet.live_status(sim.site_ids[0])["timestamp"]
    assert manager._tokens.access_token.startswith("NA_simat_")


def test_fixed_token_mode_rejects_other_tokens_and_expired_ones() -> None:
    with make_sim(token="secret-token") as sim:
        site = f"/api/1/energy_sites/{sim.site_ids[0]}/live_status"
        with httpx.Client(base_url=sim.base_url) as raw:
            assert raw.get(site).status_code == 401
            assert raw.get(site, headers={"Authorization": "Bearer other"}).status_code == 401
            ok = raw.get(site, headers={"Authorization": "Bearer secret-token"})
            assert ok.status_code == 200
            assert _refresh(sim, "never-issued").status_code == 401
            issued = _refresh(sim, sim.tokens.issue_refresh_token()).json()["access_token"]
            bearer = {"Authorization": f"Bearer {issued}"}
            assert raw.get(site, headers=bearer).status_code == 200
            sim.clock.advance(28_801)
            expired = raw.get(site, headers=bearer)
            assert expired.status_code == 401
            assert expired.json() == {"response": None, "error": "token expired (401)",
                                      "error_description": ""}


def test_open_mode_accepts_any_bearer_but_not_none(sim: SimServer) -> None:
    with httpx.Client(base_url=sim.base_url) as raw:
        assert raw.get("/api/1/products").status_code == 401
        assert raw.get("/api/1/products", headers={"Authorization": "Bearer x"}).status_code == 200


def test_rate_limit_answers_429_with_retry_after_per_site(sim: SimServer,
                                                          client: FleetClient) -> None:
    sim.set_faults(FaultConfig(rate_limit=2, rate_window_seconds=60))
    la, adl, _ = sim.site_ids
    client.live_status(la)
    client.live_status(la)
    with pytest.raises(RateLimited) as caught:
        client.live_status(la)
    assert caught.value.retry_after == 60
    client.live_status(adl)  # another site has its own budget
    sim.clock.advance(61)
    client.live_status(la)
    assert sim.requests.count("live_status", 429) == 1


def test_every_kth_request_gets_a_5xx(sim: SimServer, client: FleetClient) -> None:
    sim.set_faults(error=FaultRule(every=3))
    site = sim.site_ids[0]
    outcomes = []
    for _ in range(6):
        try:
            client.site_info(site)
            outcomes.append("ok")
        except TransientError as exc:
            assert exc.status == 503
            outcomes.append("5xx")
    assert outcomes == ["ok", "ok", "5xx", "ok", "ok", "5xx"]


@pytest.mark.parametrize("mode", ["close", "hang"])
def test_timeouts(sim: SimServer, mode: str) -> None:
    sim.set_faults(timeout=FaultRule(every=1), timeout_mode=mode, hang_seconds=3.0)
    with client_for(sim, TESLA_TIMEOUT_SECONDS="0.3") as fleet, pytest.raises(TransientError):
        fleet.live_status(sim.site_ids[0])
    assert sim.requests.entries("live_status")[-1].fault == "timeout"


@pytest.mark.parametrize("kind", ["malformed", "truncated"])
def test_broken_json(sim: SimServer, client: FleetClient, kind: str) -> None:
    sim.set_faults(**{kind: FaultRule(every=1)})
    with pytest.raises(InvalidResponse):
        client.live_status(sim.site_ids[0])


def test_missing_fields_and_endpoint_filter(sim: SimServer, client: FleetClient) -> None:
    sim.set_faults(missing=FaultRule(every=1), endpoints=frozenset({"live_status"}))
    site = sim.site_ids[0]
    live = client.live_status(site)
    assert "solar_power" not in live and "percentage_charged" in live
    assert "site_name" in client.site_info(site)  # not in the filter: untouched


def test_seeded_rate_is_deterministic() -> None:
    def pattern() -> list[int]:
        with make_sim(sites=1, faults=parse_fault_spec("error=30%,seed=5")) as sim:
            with client_for(sim) as fleet:
                for _ in range(20):
                    with contextlib.suppress(TransientError):
                        fleet.site_info(sim.site_ids[0])
            return [e.status for e in sim.requests.entries("site_info")]

    first = pattern()
    assert 503 in first and 200 in first
    assert pattern() == first


def test_fault_spec_parsing() -> None:
    config = parse_fault_spec("rate_limit=10/30,error=5,timeout=2%,timeout_mode=close,"
                              "malformed=7,only=live_status+site_info", latency_ms=25)
    assert config.rate_limit == 10 and config.rate_window_seconds == 30
    assert config.error == FaultRule(every=5) and config.timeout == FaultRule(rate=0.02)
    assert config.endpoints == {"live_status", "site_info"} and config.latency_ms == 25
    for bad in ("error", "error=0", "nonsense=1", "timeout=200%"):
        with pytest.raises(ValueError):
            parse_fault_spec(bad)


def test_latency_is_applied_and_logged(sim: SimServer, client: FleetClient) -> None:
    sim.set_faults(latency_ms=20)
    assert sim.faults.decide("live_status", "x", 0.0).latency_s == pytest.approx(0.02)
    client.products()
    entry = sim.requests.entries("products")[-1]
    assert (entry.method, entry.status, entry.site_id) == ("GET", 200, None)


def test_request_log_records_query_and_site(sim: SimServer, client: FleetClient) -> None:
    from datetime import UTC, datetime
    site = sim.site_ids[0]
    end = datetime(2025, 1, 2, tzinfo=UTC)
    client.calendar_history(site, "energy", end, end)
    entry = sim.requests.entries("calendar_history")[-1]
    assert entry.site_id == site and entry.query["kind"] == "energy"
    assert entry.query["end_date"] == "2025-01-02T00:00:00+00:00"
    with pytest.raises(AuthRequired):
        client.tokens.rejected("anything")  # no refresh token configured: stop and tell
