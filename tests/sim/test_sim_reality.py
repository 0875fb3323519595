"""The simulator answers like the real Fleet API where real captures showed it differently:
dateless and end-date-only day requests, ``/status``, the zero-field rule, integer powers,
offset-only history replies, solar-only and v1-tariff sites, empty seasons, paged backups."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from collector.cli import main
from collector.errors import RequestRejected
from collector.sim import SimClock, SimConfig, SimServer
from collector.sim.payloads import ENERGY_FIELDS, OMITTED_WHEN_ZERO
from collector.sim.spec import default_site
from collector.sim.tariff import default_tariff, v1_shape
from collector.tariff import load_tariff, site_tariff_content, validate
from tests.sim.conftest import INSTALLED, NOW, SEED, client_for, make_sim

LA = ZoneInfo("America/Los_Angeles")
BASE_FIELDS = [name for name in ENERGY_FIELDS if name not in OMITTED_WHEN_ZERO]


def raw_get(sim: SimServer, path: str, **params: str) -> httpx.Response:
    with httpx.Client(base_url=sim.base_url, headers={"Authorization": "Bearer t"}) as raw:
        return raw.get(path, params=params)


def test_day_requests_without_dates_mean_today_and_end_date_alone_picks_its_day(sim):
    site = sim.site_ids[0]
    path = f"/api/1/energy_sites/{site}/calendar_history"
    today = raw_get(sim, path, kind="energy", period="day").json()["response"]
    assert today["time_series"] == sim.energy_rows(site, date(2025, 11, 20))
    ended = raw_get(sim, path, kind="energy", period="day",
                    end_date="2025-06-20T23:59:59-07:00").json()["response"]
    assert ended["time_series"] == sim.energy_rows(site, date(2025, 6, 20))
    assert ended["installation_time_zone"] == "America/Los_Angeles"


def test_status_answers_ok_without_a_token(sim):
    answer = httpx.get(sim.base_url + "/status")
    assert (answer.status_code, answer.text) == (200, "ok")
    assert answer.headers["content-type"].startswith("text/plain")


def test_energy_rows_carry_every_base_field_and_only_nonzero_totals(sim):
    rows = sim.energy_rows(sim.site_ids[0], date(2025, 6, 20))
    assert rows
    for row in rows:
        assert [k for k in row if k in BASE_FIELDS] == BASE_FIELDS  # the real order, zeros too
        assert row["generator_energy_exported"] == row["grid_services_energy_imported"] == 0
        assert all(row[k] > 0 for k in OMITTED_WHEN_ZERO if k in row)
    night, noon = rows[24], rows[150]  # 02:00 and 12:30
    assert "total_solar_generation" not in night and night["solar_energy_exported"] == 0
    assert noon["total_solar_generation"] == noon["solar_energy_exported"] > 0


def test_live_powers_are_integers_and_types_stay_stable_after_a_command(sim, client):
    site = sim.site_ids[0]
    live = client.live_status(site)
    for key in ("solar_power", "battery_power", "load_power", "grid_power", "generator_power",
                "grid_services_power"):
        assert type(live[key]) is int, key
    assert type(live["percentage_charged"]) is float
    assert type(live["wall_connectors"][0]["wall_connector_power"]) is int
    before = client.site_info(site)
    assert type(before["backup_reserve_percent"]) is int
    client.backup(site, 35)
    after = client.site_info(site)
    assert type(after["backup_reserve_percent"]) is int and after["backup_reserve_percent"] == 35
    assert {k: type(v) for k, v in after.items()} == {k: type(v) for k, v in before.items()}


def _offset_only_sim() -> SimServer:
    """One Denver-like site: site_info ``installation_time_zone: ""``, history replies with
    only ``time_zone_offset``."""
    spec = dataclasses.replace(default_site(0, SEED, INSTALLED, "America/Denver"),
                               report_installation_zone=False, history_zone="offset")
    return SimServer(SimConfig(sites=(spec,), seed=SEED, clock=SimClock.fixed(NOW)))


def test_offset_only_history_replies_carry_the_standard_offset_and_dst_timestamps():
    with _offset_only_sim() as sim, client_for(sim) as client:
        site = sim.site_ids[0]
        summer = datetime(2025, 7, 1, 23, 59, 59, tzinfo=ZoneInfo("America/Denver"))
        reply = client.calendar_history(site, "energy", summer - timedelta(days=1), summer)
        assert "installation_time_zone" not in reply
        assert reply["time_zone_offset"] == -420  # MST, as Tesla reports it even in summer
        assert reply["time_series"][0]["timestamp"] == "2025-07-01T00:00:00-06:00"
        assert client.site_info(site)["installation_time_zone"] == ""


def _mixed_sim() -> SimServer:
    return make_sim(sites=4, solar_only=1, v1_tariff=1)


def test_a_solar_only_site_looks_like_the_real_ones():
    with _mixed_sim() as sim, client_for(sim) as client:
        solar = sim.site_ids[3]
        live = client.live_status(solar)
        assert (live["grid_status"], live["island_status"]) == ("Unknown",
                                                                "island_status_unknown")
        assert (live["energy_left"], live["total_pack_energy"], live["percentage_charged"]) == (
            0, 1, 0)
        assert live["wall_connectors"] is None and "backup_capable" not in live
        assert live["load_power"] == live["solar_power"] + live["grid_power"]
        info = client.site_info(solar)
        for absent in ("backup_reserve_percent", "default_real_mode", "battery_count",
                       "tariff_content_v2", "tou_settings", "nameplate_energy"):
            assert absent not in info, absent
        assert info["components"]["battery"] is False
        assert info["user_settings"]["storm_mode_enabled"] is None
        entry = next(p for p in client.products() if p["energy_site_id"] == solar)
        assert entry["resource_type"] == "solar" and "energy_left" not in entry
        start = datetime(2024, 6, 1, tzinfo=LA)
        end = datetime(2025, 11, 1, tzinfo=LA)
        assert client.calendar_history(solar, "backup", start, end, "year")["events"] == []
        day = sim.energy_rows(solar, date(2025, 6, 20))
        assert day and all(r["battery_energy_exported"] == 0 for r in day)
        assert sum(r.get("total_solar_generation", 0) for r in day) > 0
        with pytest.raises(RequestRejected, match="no Powerwall"):
            client.backup(solar, 30)


def test_a_v1_tariff_site_reports_tariff_content_the_collector_reads():
    with _mixed_sim() as sim, client_for(sim) as client:
        v1_site = sim.site_ids[2]
        info = client.site_info(v1_site)
        assert "tariff_content_v2" not in info and info["tariff_id"] == "SIM-TOU-1"
        content = info["tariff_content"]
        assert content["energy_charges"]["Summer"] == {"ON_PEAK": 0.55, "PARTIAL_PEAK": 0.42,
                                                       "OFF_PEAK": 0.33}
        assert isinstance(content["seasons"]["Summer"]["tou_periods"]["ON_PEAK"], list)
        read = site_tariff_content(info)
        v2 = client.site_info(sim.site_ids[0])["tariff_content_v2"]
        assert read == {k: v for k, v in v2.items() if k != "version"}
        assert [p for p in validate(load_tariff(read)) if p.level == "error"] == []


def test_a_real_shaped_tariff_with_an_empty_season_is_accepted(sim, client):
    site = sim.site_ids[0]
    tariff = default_tariff()
    tariff["seasons"]["Summer"].update(fromMonth=1, toMonth=12, fromDay=1, toDay=31)
    tariff["seasons"]["Winter"] = {}
    tariff["energy_charges"]["Winter"] = {}
    tariff["demand_charges"]["Winter"] = {}
    tariff["seasons"]["Summer"]["tou_periods"]["OFF_PEAK"]["periods"][0]["toHour"] = 15.0
    client.time_of_use_settings(site, tariff)
    assert client.site_info(site)["tariff_content_v2"]["seasons"]["Winter"] == {}


def test_v1_shape_round_trips_through_the_collectors_reader():
    tariff = default_tariff()
    assert site_tariff_content({"tariff_content": v1_shape(tariff)}) == {
        k: v for k, v in tariff.items() if k != "version"}


def test_long_backup_histories_are_paged_with_next_end_date():
    with make_sim(backup_page_size=3) as sim, client_for(sim) as client:
        site = sim.site_ids[0]
        start = datetime(2024, 6, 1, tzinfo=LA)
        truth = sim.backup_events(site, start.timestamp(), NOW.timestamp())
        assert len(truth) > 7
        pages, end = [], datetime.fromtimestamp(NOW.timestamp(), LA)
        while True:
            reply = client.calendar_history(site, "backup", start, end, "lifetime")
            pages.append(reply["events"])
            if "next_end_date" not in reply:
                break
            following = datetime.fromisoformat(reply["next_end_date"])
            assert following < end
            assert all(datetime.fromisoformat(e["timestamp"]) > following
                       for e in reply["events"])
            end = following
        assert len(pages) > 2 and all(len(p) >= 3 for p in pages[:-1])
        events = [e for page in reversed(pages) for e in page]
        assert [datetime.fromisoformat(e["timestamp"]).timestamp() for e in events] == [
            float(int(o.start)) for o in truth]
        assert [e["duration"] for e in events] == [o.duration_ms for o in truth]


@pytest.mark.parametrize("argv", [["--sites", "2", "--solar-only", "3"],
                                  ["--sites", "2", "--solar-only", "1", "--v1-tariff", "2"],
                                  ["--solar-only", "x"]])
def test_simulate_rejects_impossible_site_options_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        raise SystemExit(main(["simulate", "--port", "0", *argv]))
    assert caught.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_the_solar_only_status_shows_no_battery_settings(monkeypatch, capsys, tmp_path):
    with _mixed_sim() as sim:
        for key, value in {"TESLA_API_URL": sim.base_url, "TESLA_ACCESS_TOKEN": "anything",
                           "COLLECTOR_STATE_DIR": str(tmp_path)}.items():
            monkeypatch.setenv(key, value)
        for name in ("TESLA_REFRESH_TOKEN", "TESLA_SITE_IDS", "COLLECTOR_CONFIG"):
            monkeypatch.delenv(name, raising=False)
        assert main(["status", "--site", str(sim.site_ids[3])]) == 0
    out = capsys.readouterr().out
    assert "Settings: none (solar only: no Powerwall)" in out
    assert "Battery" not in out and "Charge" not in out and "grid charging" not in out
    assert datetime.fromtimestamp(NOW.timestamp(), UTC).isoformat()[:10] in out
