"""live_status and site_info transforms with recorded-shape payloads."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pandas as pd
import pytest
from structlog.testing import capture_logs

from collector.transform import live_status_frames, site_info_frame, to_line_protocol
from tests.support import load_payload


def _row(frame) -> dict:
    assert len(frame) == 1
    return {k: v.item() if hasattr(v, "item") else v
            for k, v in frame.data.iloc[0].items() if not pd.isna(v)}


def test_pypowerwall_sample_time_types_and_derived_fields() -> None:
    live, wall = live_status_frames(load_payload("live_status_pypowerwall"), 2252179231, "Home")
    assert live.measurement == "live_status" and live.tags == ("site_id", "site_name")
    assert list(live.data.index) == [pd.Timestamp("2024-05-12T07:18:19Z")]
    row = _row(live)
    assert row["site_id"] == "2252179231" and row["site_name"] == "Home"
    assert row["battery_power"] == 780.0 and row["percentage_charged"] == 46.6731017783813
    assert row["battery_discharge_power"] == 780.0 and row["battery_charge_power"] == 0.0
    assert row["grid_import_power"] == 0.0 and row["grid_export_power"] == 0.0
    assert row["grid_status"] == "Active" and row["storm_mode_active"] is False
    assert "energy_left" not in row and "total_pack_energy" not in row  # absent, not 0
    assert wall.empty and wall.measurement == "wall_connector"
    assert str(live.data["solar_power"].dtype) == "float64"


def test_absent_fields_are_not_written_and_ints_become_floats() -> None:
    live, _ = live_status_frames(load_payload("live_status_pypowerwall"), 1, "Home")
    (line,) = to_line_protocol(live)
    assert "energy_left" not in line and "total_pack_energy" not in line
    assert "battery_power=780.0," in line and "storm_mode_active=false" in line
    assert line.endswith(" 1715498299")


def test_export_and_charge_derived_from_signs_and_wall_connectors() -> None:
    live, wall = live_status_frames(load_payload("live_status_wall_connectors"), 7, None)
    row = _row(live)
    assert row["grid_export_power"] == 3202.85 and row["grid_import_power"] == 0.0
    assert row["battery_charge_power"] == 1200.0 and row["battery_discharge_power"] == 0.0
    assert "site_name" not in row
    assert wall.tags == ("site_id", "din")
    assert list(wall.data["din"]) == ["abd-123", "abd-456"]
    assert str(wall.data["wall_connector_state"].dtype) == "Int64"
    assert to_line_protocol(wall) == [
        "wall_connector,site_id=7,din=abd-123 wall_connector_power=0.0,"
        "wall_connector_state=2i,wall_connector_fault_state=2i 1726613232",
        "wall_connector,site_id=7,din=abd-456 wall_connector_power=7360.5,"
        "wall_connector_state=1i,wall_connector_fault_state=8i 1726613232",
    ]


def test_solar_only_site_with_null_wall_connectors() -> None:
    live, wall = live_status_frames(load_payload("live_status_solar_only"), 3, "Roof")
    row = _row(live)
    assert row["energy_left"] == 0.0 and row["total_pack_energy"] == 1.0
    assert row["island_status"] == "island_status_unknown"
    assert "storm_mode_active" not in row and "generator_power" not in row
    assert wall.empty


def test_unparseable_timestamp_skips_the_sample_with_a_warning() -> None:
    payload = load_payload("live_status_pypowerwall")
    payload["response"]["timestamp"] = "yesterday-ish"
    with capture_logs() as logs:
        live, wall = live_status_frames(payload, 1, "Home")
    assert live.empty and wall.empty
    assert any(e["event"] == "malformed_live_status_skipped" for e in logs)


def test_wrong_type_is_malformed_not_coerced() -> None:
    payload = load_payload("live_status_pypowerwall")
    payload["response"]["battery_power"] = "780"
    with capture_logs() as logs:
        live, _ = live_status_frames(payload, 1, "Home")
    assert live.empty
    assert "battery_power" in logs[0]["reason"]


def test_bad_wall_connector_entry_is_skipped_others_kept() -> None:
    payload = load_payload("live_status_wall_connectors")
    payload["response"]["wall_connectors"].insert(0, {"wall_connector_state": 1})
    with capture_logs() as logs:
        _, wall = live_status_frames(payload, 7, None)
    assert list(wall.data["din"]) == ["abd-123", "abd-456"]
    assert logs[0]["skipped"] == 1 and logs[0]["kept"] == 2


COLLECTED = datetime(2024, 9, 18, 0, 0, 5, 900_000, tzinfo=UTC)


def test_site_info_fields_and_no_invented_grid_charging_flag() -> None:
    frame = site_info_frame(load_payload("site_info"), 99, "fallback", COLLECTED)
    assert list(frame.data.index) == [pd.Timestamp("2024-09-18T00:00:05Z")]  # floored
    row = _row(frame)
    assert row["site_name"] == "Home Energy Gateway"
    assert row["storm_mode_enabled"] is True
    assert row["customer_preferred_export_rule"] == "pv_only"
    # Tesla omits the flag when false; a field the payload lacks is never written
    assert "disallow_charge_from_grid_with_solar_installed" not in row
    assert row["backup_reserve_percent"] == 20.0 and row["battery_count"] == 2
    assert row["nameplate_energy"] == 27000.0 and row["version"] == "24.12.5 7a4e64b4"
    assert row["off_grid_vehicle_charging_reserve_percent"] == 15.0
    (line,) = to_line_protocol(frame)
    assert "battery_count=2i" in line and 'default_real_mode="self_consumption"' in line


def test_site_info_present_flag_and_missing_components() -> None:
    payload = load_payload("site_info")
    payload["response"]["components"]["disallow_charge_from_grid_with_solar_installed"] = True
    assert _row(site_info_frame(payload, 1, None, COLLECTED))[
        "disallow_charge_from_grid_with_solar_installed"] is True
    del payload["response"]["components"]
    del payload["response"]["site_name"]
    row = _row(site_info_frame(payload, 1, "Fallback", COLLECTED))
    assert "disallow_charge_from_grid_with_solar_installed" not in row
    assert "customer_preferred_export_rule" not in row
    assert row["site_name"] == "Fallback"


def test_site_info_never_export_shown_as_non_export_configured() -> None:
    payload = load_payload("site_info")
    components = payload["response"]["components"]
    del components["customer_preferred_export_rule"]
    components["non_export_configured"] = True
    row = _row(site_info_frame(payload, 1, None, COLLECTED))
    assert row["customer_preferred_export_rule"] == "never"
    assert not math.isnan(row["nameplate_power"])


def test_integers_and_floats_are_accepted_for_every_numeric_field() -> None:
    payload = load_payload("live_status_wall_connectors")
    body = payload["response"]
    body["solar_power"], body["percentage_charged"] = 1185, 95
    for connector in body["wall_connectors"]:
        connector["wall_connector_state"] = 2.0  # an integer field sent as a float
    live, wall = live_status_frames(payload, 1, "Home")
    assert _row(live)["solar_power"] == 1185.0 and _row(live)["percentage_charged"] == 95.0
    assert set(wall.data["wall_connector_state"]) == {2}
    info = load_payload("site_info")
    info["response"]["battery_count"] = 2.0
    info["response"]["backup_reserve_percent"] = 20
    row = _row(site_info_frame(info, 1, None, COLLECTED))
    assert row["battery_count"] == 2 and row["backup_reserve_percent"] == 20.0
    (line,) = to_line_protocol(site_info_frame(info, 1, None, COLLECTED))
    assert "battery_count=2i" in line and "backup_reserve_percent=20.0" in line


@pytest.mark.parametrize(("zone", "tag"), [("America/Denver", "America/Denver"),
                                          ("Etc/GMT+7", "Etc/GMT+7"), ("UTC+05:30", None),
                                          ("", None)])
def test_the_time_zone_tag_is_an_iana_name_or_absent(zone, tag) -> None:
    frame = site_info_frame(load_payload("site_info"), 1, None, COLLECTED, zone)
    value = frame.data["time_zone"].iloc[0]
    assert value == tag if tag else value is None
