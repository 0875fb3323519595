"""A real client as a test: ``tesla-fleet-api`` (the library behind Home Assistant's
tesla_fleet and teslemetry integrations) drives the simulator through every call it makes for
an energy site, the way Home Assistant calls them. Every call must succeed."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from tesla_fleet_api import TeslaFleetApi
from tesla_fleet_api.const import TeslaEnergyPeriod

from collector.sim import SimServer
from collector.tariff import site_tariff_content
from tests.sim.conftest import NOW, make_sim

LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def mixed_sim():
    """Los Angeles (v2 tariff), Adelaide (empty site_info zone), Phoenix with a v1 tariff."""
    with make_sim(v1_tariff=1) as server:
        yield server


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, timeout=60))


async def _reads(sim: SimServer) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        api = TeslaFleetApi(session, access_token="ha-access-token", server=sim.base_url)
        site = api.energySites.create(sim.site_ids[0])
        today = datetime.fromtimestamp(NOW.timestamp(), LA)
        day_end = (today.replace(hour=0, minute=0, second=0) - timedelta(seconds=1))
        return {
            "status": await api.status(),
            "products": await api.products(),
            "live": await site.live_status(),
            "info": await site.site_info(),
            "today": await site.energy_history(TeslaEnergyPeriod.DAY),  # HA: no dates
            "yesterday": await site.energy_history(  # HA's backfill: only end_date
                TeslaEnergyPeriod.DAY, end_date=day_end.isoformat()),
            "dated": await site.energy_history(
                TeslaEnergyPeriod.DAY, start_date=(day_end - timedelta(days=1, seconds=-1))
                .isoformat(), end_date=(day_end - timedelta(days=1)).isoformat(),
                time_zone="America/Los_Angeles"),
            "month": await site.energy_history(TeslaEnergyPeriod.MONTH,
                                               end_date=today.isoformat()),
            "backup": await site.backup_history(TeslaEnergyPeriod.LIFETIME),
            "backup_dated": await site.backup_history(
                TeslaEnergyPeriod.YEAR, start_date="2025-01-01T00:00:00-08:00",
                end_date=today.isoformat(), time_zone="America/Los_Angeles"),
            "charge": await site.charge_history(start_date="2025-10-01T00:00:00-07:00",
                                                end_date=today.isoformat(),
                                                time_zone="America/Los_Angeles"),
        }


def test_every_read_home_assistant_makes_succeeds(mixed_sim):
    sim = mixed_sim
    site = sim.site_ids[0]
    got = run(_reads(sim))
    assert got["status"] == "ok"
    energy = [p for p in got["products"]["response"] if "energy_site_id" in p]
    assert [p["energy_site_id"] for p in energy] == sim.site_ids
    assert got["live"]["response"]["timestamp"] == "2025-11-20T12:07:30-08:00"
    assert got["info"]["response"]["tariff_content_v2"]["code"] == "SIM-TOU-1"
    today = got["today"]["response"]
    assert today["installation_time_zone"] == "America/Los_Angeles"  # what HA requires
    assert today["time_series"] == sim.energy_rows(site, datetime(2025, 11, 20).date())
    yesterday = got["yesterday"]["response"]["time_series"]
    assert yesterday == sim.energy_rows(site, datetime(2025, 11, 19).date())
    assert len(yesterday) == 288
    assert got["dated"]["response"]["time_series"] == sim.energy_rows(
        site, datetime(2025, 11, 18).date())
    month = got["month"]["response"]["time_series"]
    assert len(month) == 20 and month[0]["timestamp"] == "2025-11-01T01:00:00-07:00"
    lifetime = got["backup"]["response"]["events"]
    assert [e["duration"] for e in lifetime] == [
        o.duration_ms for o in sim.backup_events(site, sim.sites[site].installed_at,
                                                 NOW.timestamp())]
    assert "events" in got["backup_dated"]["response"]
    sessions = got["charge"]["response"]["charge_history"]
    assert sessions and all("charge_start_time" in s for s in sessions)


async def _commands(sim: SimServer) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        api = TeslaFleetApi(session, access_token="ha-access-token", server=sim.base_url)
        site = api.energySites.create(sim.site_ids[0])
        v1_site = api.energySites.create(sim.site_ids[2])
        own = (await site.site_info())["response"]["tariff_content_v2"]
        v1_own = site_tariff_content((await v1_site.site_info())["response"])
        return {
            "backup": await site.backup(40),
            "grid_export": await site.grid_import_export(customer_preferred_export_rule="pv_only"),
            "grid_charging": await site.grid_import_export(
                disallow_charge_from_grid_with_solar_installed=True),
            "ev_reserve": await site.off_grid_vehicle_charging_reserve(30),
            "operation": await site.operation("autonomous"),
            "storm_mode": await site.storm_mode(False),
            "tariff": await site.time_of_use_settings(own),
            "v1_tariff": await v1_site.time_of_use_settings(v1_own),
            "after": (await site.site_info())["response"],
        }


def test_every_command_succeeds_including_the_sites_own_tariff(mixed_sim):
    sim = mixed_sim
    got = run(_commands(sim))
    for name in ("backup", "grid_export", "grid_charging", "ev_reserve", "operation",
                 "storm_mode", "tariff", "v1_tariff"):
        assert got[name] == {"response": {"code": 201, "message": "Updated"}}, name
    after = got["after"]
    assert after["backup_reserve_percent"] == 40
    assert after["components"]["customer_preferred_export_rule"] == "pv_only"
    assert after["components"]["disallow_charge_from_grid_with_solar_installed"] is True
    assert after["off_grid_vehicle_charging_reserve_percent"] == 30
    assert after["default_real_mode"] == "autonomous"
    assert after["user_settings"]["storm_mode_enabled"] is False
    assert sim.sites[sim.site_ids[2]].settings.tariff["code"] == "SIM-TOU-1"
