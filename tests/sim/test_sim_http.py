"""The HTTP surface: shapes and quirks, DST and half-hour day boundaries, commands, caching
and determinism of past history, the clock."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from collector.errors import RequestRejected
from collector.sim import SimServer
from collector.sim.tariff import default_tariff
from collector.source import FleetClient
from tests.sim.conftest import client_for, make_sim

LA, ADL, PHX = (ZoneInfo(z) for z in ("America/Los_Angeles", "Australia/Adelaide",
                                      "America/Phoenix"))


def _day(client: FleetClient, site: int, day: date, zone: ZoneInfo) -> dict:
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    end = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=zone)
    return client.calendar_history(site, "energy", start, end, period="day")


@pytest.mark.parametrize(("index", "zone", "day", "count"), [
    (0, LA, date(2024, 11, 3), 300), (0, LA, date(2025, 3, 9), 276),
    (0, LA, date(2025, 3, 10), 288),
    (1, ADL, date(2025, 4, 6), 300), (1, ADL, date(2024, 10, 6), 276),
    (1, ADL, date(2025, 1, 15), 288), (2, PHX, date(2025, 3, 9), 288),
    (2, PHX, date(2024, 11, 3), 288),
])
def test_dst_days_have_the_right_bucket_count(sim: SimServer, client: FleetClient, index: int,
                                              zone: ZoneInfo, day: date, count: int) -> None:
    series = _day(client, sim.site_ids[index], day, zone)["time_series"]
    assert len(series) == count
    instants = [datetime.fromisoformat(r["timestamp"]) for r in series]
    assert all(t.date() == day for t in instants)
    assert len({t.timestamp() for t in instants}) == count  # unique instants
    steps = {(b - a).total_seconds() for a, b in zip(instants, instants[1:], strict=False)}
    assert steps == {300.0}


def test_fall_back_day_repeats_wall_clock_times_with_two_offsets(sim: SimServer,
                                                                 client: FleetClient) -> None:
    series = _day(client, sim.site_ids[0], date(2024, 11, 3), LA)["time_series"]
    stamps = [r["timestamp"] for r in series]
    assert "2024-11-03T01:30:00-07:00" in stamps and "2024-11-03T01:30:00-08:00" in stamps
    assert stamps[0] == "2024-11-03T00:00:00-07:00" and stamps[-1] == "2024-11-03T23:55:00-08:00"


def test_half_hour_zone_day_boundaries(sim: SimServer, client: FleetClient) -> None:
    site = sim.site_ids[1]
    answer = _day(client, site, date(2025, 7, 1), ADL)
    series = answer["time_series"]
    assert series[0]["timestamp"] == "2025-07-01T00:00:00+09:30"
    assert series[-1]["timestamp"] == "2025-07-01T23:55:00+09:30"
    first = datetime.fromisoformat(series[0]["timestamp"]).astimezone(UTC)
    assert first == datetime(2025, 6, 30, 14, 30, tzinfo=UTC)
    assert answer["installation_time_zone"] == "Australia/Adelaide"
    # an end_date in UTC selects the local day that contains it (here already July 2nd)
    late = datetime(2025, 7, 1, 15, 0, tzinfo=UTC)
    shifted = client.calendar_history(site, "energy", late - timedelta(hours=1), late)
    assert shifted["time_series"][0]["timestamp"] == "2025-07-02T00:00:00+09:30"


def test_history_matches_ground_truth_and_repeats_identically(sim: SimServer,
                                                              client: FleetClient) -> None:
    site, day = sim.site_ids[0], date(2025, 6, 20)
    first = _day(client, site, day, LA)
    assert first["time_series"] == sim.energy_rows(site, day)
    client.backup(site, 80)  # a settings change must not rewrite the past
    assert _day(client, site, day, LA) == first
    with make_sim() as other, client_for(other) as fresh:
        assert _day(fresh, site, day, LA) == first
    with make_sim(seed=12) as reseeded, client_for(reseeded) as fresh:
        other_site = reseeded.site_ids[0]
        assert _day(fresh, other_site, day, LA)["time_series"] != first["time_series"]


def test_before_installation_today_and_future(sim: SimServer, client: FleetClient) -> None:
    site = sim.site_ids[0]
    assert _day(client, site, date(2024, 5, 31), LA)["time_series"] is None
    today = _day(client, site, date(2025, 11, 20), LA)["time_series"]
    # NOW is 12:07:30 local: the buckets that ended by then are 00:00 .. 12:00
    assert len(today) == 12 * 12 + 1
    assert today[-1]["timestamp"] == "2025-11-20T12:00:00-08:00"
    assert _day(client, site, date(2025, 11, 21), LA)["time_series"] == []
    sim.clock.advance(600)
    assert len(_day(client, site, date(2025, 11, 20), LA)["time_series"]) == len(today) + 2


def test_month_and_year_periods_sum_the_days(sim: SimServer, client: FleetClient) -> None:
    site = sim.site_ids[2]
    end = datetime(2025, 2, 10, 12, tzinfo=PHX)
    month = client.calendar_history(site, "energy", end, end, period="month")["time_series"]
    # real month/year rows are stamped 01:00 local
    assert len(month) == 28 and month[0]["timestamp"] == "2025-02-01T01:00:00-07:00"
    feb3 = sim.energy_rows(site, date(2025, 2, 3))
    assert feb3 is not None
    assert month[2]["total_home_usage"] == sum(r.get("total_home_usage", 0) for r in feb3)
    year = client.calendar_history(site, "energy", end, end, period="year")["time_series"]
    assert len(year) == 11  # January .. November (now is 2025-11-20)
    assert year[0]["timestamp"] == "2025-01-01T01:00:00-07:00"
    assert year[1]["solar_energy_exported"] == sum(r.get("solar_energy_exported", 0)
                                                  for r in month)
    with pytest.raises(RequestRejected):
        client.calendar_history(site, "energy", end, end, period="week")


def test_live_status_follows_the_clock_and_shows_quirks(sim: SimServer,
                                                        client: FleetClient) -> None:
    la, adl, phx = sim.site_ids
    live = client.live_status(la)
    assert live["timestamp"] == "2025-11-20T12:07:30-08:00"
    assert live["load_power"] == live["solar_power"] + live["battery_power"] + live["grid_power"]
    assert live["total_pack_energy"] == 27000 and isinstance(live["wall_connectors"], list)
    assert live["wall_connectors"][0]["din"].startswith("1457768-02-G--")
    quirky = client.live_status(adl)
    assert quirky["wall_connectors"] is None and "energy_left" not in quirky
    assert client.live_status(phx)["wall_connectors"] == []
    sim.clock.advance(3600)
    assert client.live_status(la)["timestamp"] == "2025-11-20T13:07:30-08:00"


def test_products_region_and_site_info_shapes(sim: SimServer, client: FleetClient) -> None:
    with httpx.Client(base_url=sim.base_url, headers={"Authorization": "Bearer t"}) as raw:
        products = raw.get("/api/1/products").json()["response"]
    assert any("vin" in p and "energy_site_id" not in p for p in products)
    assert [p["energy_site_id"] for p in client.products()] == sim.site_ids
    assert client.users_region()["fleet_api_base_url"] == sim.base_url
    info = client.site_info(sim.site_ids[1])
    assert info["installation_time_zone"] == "" and info["time_zone_offset"] == 570
    assert client.site_info(sim.site_ids[0])["time_zone_offset"] == -480
    assert info["components"]["batteries"][0]["nameplate_energy"] == 13500
    assert info["tariff_content_v2"]["currency"] == "USD"  # at the top level, as in reality
    assert info["tou_settings"] == {"optimization_strategy": "economics", "schedule": []}
    assert isinstance(info["backup_reserve_percent"], int)


def test_commands_change_site_info_and_model(sim: SimServer, client: FleetClient) -> None:
    site = sim.site_ids[0]
    assert client.backup(site, 35) == {"code": 201, "message": "Updated"}
    client.operation(site, "autonomous")
    client.storm_mode(site, False)
    client.off_grid_vehicle_charging_reserve(site, 55)
    client.grid_import_export(site, customer_preferred_export_rule="never",
                              disallow_charge_from_grid_with_solar_installed=True)
    tariff = default_tariff()
    tariff["name"] = "Changed"
    client.time_of_use_settings(site, tariff)
    info = client.site_info(site)
    assert info["backup_reserve_percent"] == 35
    assert info["default_real_mode"] == "autonomous"
    assert info["user_settings"]["storm_mode_enabled"] is False
    assert info["off_grid_vehicle_charging_reserve_percent"] == 55
    assert info["components"]["customer_preferred_export_rule"] == "never"
    assert info["components"]["non_export_configured"] is True
    assert info["components"]["disallow_charge_from_grid_with_solar_installed"] is True
    assert info["tariff_content_v2"]["name"] == "Changed"
    assert isinstance(info["backup_reserve_percent"], int)  # the type stays an integer
    assert sim.sites[site].settings.backup_reserve_percent == 35
    assert client.site_info(sim.site_ids[1])["backup_reserve_percent"] == 20


def _broken_tariffs() -> list[dict]:
    no_seasons = default_tariff() | {"seasons": {}}
    euro = default_tariff() | {"currency": "JPY"}
    overlap = default_tariff()
    overlap["seasons"]["Summer"]["tou_periods"]["ON_PEAK"]["periods"][0]["fromHour"] = 14
    gap = default_tariff()
    gap["seasons"]["Winter"]["tou_periods"]["OFF_PEAK"]["periods"][0]["toHour"] = 14
    months = default_tariff()
    months["seasons"]["Winter"]["toMonth"] = 4
    return [no_seasons, euro, overlap, gap, months]


@pytest.mark.parametrize(("path", "body"), [
    ("backup", {"backup_reserve_percent": 101}),
    ("backup", {"backup_reserve_percent": "20"}),
    ("backup", {"backup_reserve_percent": 20.5}),
    ("operation", {"default_real_mode": "backup_only"}),
    ("storm_mode", {"enabled": "yes"}),
    ("grid_import_export", {"customer_preferred_export_rule": "solar"}),
    ("grid_import_export", {}),
    ("off_grid_vehicle_charging_reserve", {"off_grid_vehicle_charging_reserve_percent": -1}),
    *[("time_of_use_settings", {"tou_settings": {"tariff_content_v2": t}})
      for t in _broken_tariffs()],
])
def test_invalid_commands_are_rejected_with_400(sim: SimServer, path: str, body: dict) -> None:
    site = sim.site_ids[0]
    before = sim.site_info(site)
    with httpx.Client(base_url=sim.base_url, headers={"Authorization": "Bearer t"}) as raw:
        answer = raw.post(f"/api/1/energy_sites/{site}/{path}", json=body)
    assert answer.status_code == 400
    assert answer.json()["response"] is None and answer.json()["error"]
    assert sim.site_info(site) == before


def test_backup_and_charge_history(sim: SimServer, client: FleetClient) -> None:
    site = sim.site_ids[0]
    start, end = datetime(2024, 6, 1, tzinfo=LA), datetime(2025, 11, 1, tzinfo=LA)
    backup = client.calendar_history(site, "backup", start, end, period="lifetime")
    events = backup["events"]
    assert backup["total_events"] == len(events) > 3
    truth = sim.backup_events(site, sim.sites[site].installed_at, end.timestamp())
    assert [e["duration"] for e in events] == [o.duration_ms for o in truth]
    model = sim.sites[site]
    first = datetime.fromisoformat(events[0]["timestamp"]).timestamp()
    assert model.live(first + 1).off_grid  # the site islanded during the event
    charges = client.telemetry_history(site, start, end)["charge_history"]
    assert len(charges) > 50
    session = charges[0]
    assert session["din"] == model.spec.wall_connector_din
    assert 0 < session["energy_added_wh"] <= 7680 * session["charge_duration"]["seconds"] / 3600 + 1
    assert session["charge_start_time"]["seconds"] >= start.timestamp()


def test_bad_history_requests(sim: SimServer) -> None:
    site = sim.site_ids[0]
    with httpx.Client(base_url=sim.base_url, headers={"Authorization": "Bearer t"}) as raw:
        path = f"/api/1/energy_sites/{site}/calendar_history"
        assert raw.get(path, params={"kind": "energy", "end_date": "x"}).status_code == 400
        assert raw.get(path, params={"kind": "soe", "end_date": "x"}).status_code == 400
        missing = raw.get("/api/1/energy_sites/123/site_info")
        assert missing.status_code == 404
        assert json.loads(missing.content) == {"response": None, "error": "not_found",
                                               "error_description": ""}
