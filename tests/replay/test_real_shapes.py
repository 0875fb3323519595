"""Real-shape replies (``tests/fixtures/real``, see its README) through the transforms, the
sink and the CLI against the real influxd: exact values, exact timestamps, nothing invented."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from structlog.testing import capture_logs

from collector.backfill.site import zone_from_reply
from collector.cli import main
from collector.tariff import load_tariff, site_tariff_content
from collector.transform import energy_history_frame, live_status_frames, site_info_frame
from tests.support.replay import ReplayServer, backup_pages, by_local_day, real

SITE = 2252000000900
COLLECTED = datetime(2024, 3, 2, 1, 15, 7, tzinfo=UTC)


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _only(influxd, db: str, measurement: str) -> list[dict]:
    return influxd.query(f'SELECT * FROM "{measurement}"', db=db)


# --- transforms + sink ------------------------------------------------------------------


@pytest.mark.integration
def test_battery_live_status_integers_are_stored_exactly(sink, influxd, influx_db):
    live, wall = live_status_frames(real("live_status_battery"), SITE, "Replay Home")
    sink.write([live, wall])
    (point,) = _only(influxd, influx_db, "live_status")
    assert point["time"] == _epoch("2024-03-02T01:15:00+00:00")
    assert (point["solar_power"], point["battery_power"], point["grid_power"],
            point["load_power"]) == (2315.0, -1480.0, -225.0, 610.0)
    assert (point["battery_charge_power"], point["battery_discharge_power"],
            point["grid_export_power"], point["grid_import_power"]) == (1480.0, 0.0, 225.0, 0.0)
    assert point["percentage_charged"] == 81.27465834292047
    assert point["backup_capable"] is True and point["island_status"] == "on_grid"
    assert "energy_left" not in point and "total_pack_energy" not in point  # not sent
    assert influxd.field_types(influx_db, "live_status")["solar_power"] == "float"
    chargers = {p["din"]: p for p in _only(influxd, influx_db, "wall_connector")}
    assert chargers["wc-din-0002"]["wall_connector_power"] == 7421.0
    assert chargers["wc-din-0002"]["wall_connector_state"] == 1
    assert influxd.field_types(influx_db, "wall_connector")["wall_connector_state"] == "integer"


@pytest.mark.integration
def test_solar_only_live_status_keeps_its_quirks_and_invents_nothing(sink, influxd, influx_db):
    live, wall = live_status_frames(real("live_status_solar_only"), SITE, "Replay Solar")
    assert len(wall) == 0  # wall_connectors: null
    sink.write([live])
    (point,) = _only(influxd, influx_db, "live_status")
    assert point["time"] == _epoch("2023-08-14T19:42:05Z")
    assert (point["grid_status"], point["island_status"]) == ("Unknown", "island_status_unknown")
    assert (point["load_power"], point["grid_power"]) == (2871.2998046875, -3608.7001953125)
    assert (point["energy_left"], point["total_pack_energy"],
            point["percentage_charged"]) == (0.0, 1.0, 0.0)
    assert point["grid_export_power"] == 3608.7001953125
    assert "backup_capable" not in point  # a solar-only site does not send it


@pytest.mark.integration
def test_site_info_with_an_empty_zone_is_stored_exactly(sink, influxd, influx_db):
    sink.write([site_info_frame(real("site_info_empty_zone"), SITE, None, COLLECTED)])
    (point,) = _only(influxd, influx_db, "site_info")
    assert point["time"] == _epoch("2024-03-02T01:15:07+00:00")
    assert point["site_name"] == "Replay Home"
    assert point["backup_reserve_percent"] == 0.0  # an integer 0 in the reply, a float field
    assert point["storm_mode_enabled"] is True and point["default_real_mode"] == "self_consumption"
    assert point["customer_preferred_export_rule"] == "pv_only"
    assert point["disallow_charge_from_grid_with_solar_installed"] is True
    assert (point["battery_count"], point["nameplate_energy"]) == (2, 27000.0)
    assert "off_grid_vehicle_charging_reserve_percent" not in point  # not in the reply


@pytest.mark.integration
def test_solar_only_site_info_writes_no_invented_field(sink, influxd, influx_db):
    frame = site_info_frame(real("site_info_solar_only"), SITE, None, COLLECTED,
                            "America/Phoenix")
    sink.write([frame])
    (point,) = _only(influxd, influx_db, "site_info")
    # Only what the payload holds: the installation date (which keeps the point, so the
    # dashboards learn the site's name and zone); no setting it does not have.
    fields = {k for k, v in point.items() if v is not None} - {"time", *frame.tags}
    assert fields == {"installation_date"}
    assert point["installation_date"] == "2022-04-04T15:56:35-07:00"
    assert (point["site_name"], point["time_zone"]) == ("Replay Solar", "America/Phoenix")


def test_energy_replies_keep_fractions_zero_totals_and_empty_series():
    fleet = energy_history_frame(real("energy_history_day_fleet"), SITE)
    assert list(fleet.data["grid_services_energy_imported"]) == [17.53125, 0.25]
    assert list(fleet.data["grid_services_energy_exported"]) == [3.80859375, 0.125]
    year = energy_history_frame(real("energy_history_year_offset"), SITE)
    assert [int(t.timestamp()) for t in year.data.index] == [
        _epoch("2021-01-01T01:00:00-07:00"), _epoch("2021-02-01T01:00:00-07:00")]
    assert list(year.data["total_solar_generation"]) == [0.0, 0.0]  # omitted: zero
    assert len(energy_history_frame(real("energy_history_null"), SITE)) == 0
    assert len(energy_history_frame(real("energy_history_no_series"), SITE)) == 0
    assert zone_from_reply(real("energy_history_year_offset")["response"]) == (
        "Etc/GMT+7", "history offset")


def test_both_real_tariff_shapes_load():
    v2 = load_tariff(site_tariff_content(real("site_info_tariff_v2")["response"]))
    assert v2.currency == "AUD" and v2.buy.price("Summer", "PERIOD_16_00") == 0.42
    v1 = load_tariff(site_tariff_content(real("site_info_tariff_v1")["response"]))
    assert v1.buy.price("Summer", "ON_PEAK") == 0.43
    assert v1.sell is not None and v1.sell.price("Summer", "PARTIAL_PEAK") == 0.1


# --- the CLI against a replayed Fleet API -------------------------------------------------


@pytest.mark.integration
def test_backfill_of_a_teslemetry_day_is_exact(replay_env, influxd, influx_db, capsys):
    routes = {"site_info": "site_info_empty_zone",
              "calendar_history:energy": "energy_history_day_teslemetry"}
    with ReplayServer(routes) as api:
        replay_env(api)
        code = main(["backfill", "--site", str(SITE), "--start", "2024-09-18", "--end",
                     "2024-09-18", "--kind", "energy"])
        out = capsys.readouterr().out
    assert code == 0, out
    rows = influxd.query("SELECT * FROM energy_history", db=influx_db)
    reply = real("energy_history_day_teslemetry")["response"]["time_series"]
    assert [r["time"] for r in rows] == [_epoch(t["timestamp"]) for t in reply]
    first, _, morning, evening = rows
    assert first["battery_energy_exported"] == first["total_battery_discharge"] == 41.0
    assert first["total_solar_generation"] == 0.0  # left out by Tesla: zero
    assert morning["total_grid_energy_exported"] == 3.0
    assert morning["battery_energy_imported_from_solar"] == 690.0
    assert evening["total_home_usage"] == 120.0 and evening["total_battery_charge"] == 0.0
    assert "raw_timestamp" not in influxd.field_types(influx_db, "energy_history")
    # site_info's zone is "": one probe learnt Australia/Brisbane from the reply, then the day
    assert api.count("calendar_history:energy") == 2


@pytest.mark.integration
def test_an_offset_only_site_backfills_exactly_with_no_configuration(replay_env, influxd,
                                                                      influx_db, capsys):
    """The issue's case: site_info ``installation_time_zone: ""`` and history replies with
    only ``time_zone_offset`` -> exact import, one warning naming TESLA_TIME_ZONE."""
    days = real("energy_history_days_offset_only")
    empty = {"response": {**days["2022-04-28"]["response"], "time_series": []}}
    routes = {"site_info": "site_info_solar_only",
              "calendar_history:energy": by_local_day(days, -420, empty)}
    args = ["backfill", "--site", str(SITE), "--start", "2022-04-28", "--end", "2022-04-29",
            "--kind", "energy"]
    with ReplayServer(routes) as api:
        replay_env(api)
        assert main([*args, "--dry-run"]) == 0
        dry = capsys.readouterr()
        code = main(args)
        run = capsys.readouterr()
    assert "zone Etc/GMT+7 = UTC-07:00 (from history offset)" in dry.out
    assert code == 0, run.out + run.err
    for stderr in (dry.err, run.err):
        warned = [line for line in stderr.splitlines() if "TESLA_TIME_ZONE" in line]
        assert len(warned) == 1 and "UTC-07:00" in warned[0]
    rows = influxd.query("SELECT * FROM energy_history", db=influx_db)
    replies = [r for d in ("2022-04-28", "2022-04-29") for r in days[d]["response"]["time_series"]]
    assert [r["time"] for r in rows] == [_epoch(t["timestamp"]) for t in replies]
    assert [r["grid_energy_imported"] for r in rows] == [52.0, 0.0, 47.5, 49.0, 0.0]
    assert [r["total_solar_generation"] for r in rows] == [0.0, 610.0, 0.0, 0.0, 642.0]


@pytest.mark.integration
def test_backfill_follows_next_end_date_through_backup_pages(replay_env, influxd, influx_db,
                                                            capsys):
    pages = real("backup_history_paged")
    routes = {"site_info": "site_info_empty_zone",
              "calendar_history:energy": "energy_history_day_teslemetry",
              "calendar_history:backup": backup_pages(pages["page1"], pages["page2"])}
    with ReplayServer(routes) as api:
        replay_env(api)
        code = main(["backfill", "--site", str(SITE), "--start", "2022-01-01", "--end",
                     "2022-12-31", "--kind", "backup"])
        out = capsys.readouterr().out
        backups = [q for name, q in api.requests if name == "calendar_history:backup"]
    assert code == 0, out
    assert [q["end_date"] for q in backups] == ["2022-12-31T23:59:59+10:00",
                                                "2022-06-03T14:02:10+10:00"]
    events = influxd.query("SELECT * FROM backup_event", db=influx_db)
    assert [(e["time"], e["duration_seconds"]) for e in events] == [
        (_epoch("2022-02-11T06:40:00+10:00"), 61.5),
        (_epoch("2022-04-19T20:55:53+10:00"), 3862.58),
        (_epoch("2022-06-03T14:02:11+10:00"), 1980.032),
        (_epoch("2022-09-20T20:55:53+10:00"), 3862.58)]


@pytest.mark.parametrize(("fixture", "expected"), [
    ("site_info_tariff_v1", ["prices in USD/kWh", "17:00-20:00  ON_PEAK          buy 0.4300  "
                             "sell 0.3000"]),
    ("site_info_tariff_v2", ["prices in AUD/kWh", "16:00-21:00  PERIOD_16_00     buy 0.4200",
                             "Sell tariff (its own seasons):",
                             "16:00-21:00  PERIOD_16_00     sell 0.0800"]),
])
def test_tariff_show_reads_a_sites_v1_or_v2_tariff(replay_env, capsys, fixture, expected):
    with ReplayServer({"site_info": fixture}) as api:
        replay_env(api)
        code = main(["tariff", "show", "--site", str(SITE)])
        out = capsys.readouterr().out
    assert code == 0, out
    for text in expected:
        assert text in out, out


def test_sites_lists_real_product_entries(replay_env, capsys):
    with ReplayServer({"products": "products"}) as api, capture_logs():
        replay_env(api)
        assert main(["sites"]) == 0
        out = capsys.readouterr().out
    assert "2252000000900  battery        81.3  Replay Home" in out
    assert "2252000000901" in out and "Replay Car" not in out
