"""Confirmed changes against the simulator: visible in its site_info, recorded as a
control_event point in the real influxd (read back with InfluxQL)."""

from __future__ import annotations

import json

import pytest

from collector.cli import main
from tests.control.conftest import logged, requests_sent
from tests.tariff.support import FIXTURES

pytestmark = pytest.mark.integration

CASES = [
    (["set", "backup-reserve", "35"], "backup",
     {"backup_reserve_percent": ("35", "20")}),
    (["set", "mode", "autonomous"], "operation",
     {"default_real_mode": ("autonomous", "self_consumption")}),
    (["set", "storm-mode", "off"], "storm_mode",
     {"storm_mode_enabled": ("false", "true")}),
    (["set", "grid-import-export", "--grid-charging", "off", "--export", "pv_only"],
     "grid_import_export",
     {"disallow_charge_from_grid_with_solar_installed": ("true", "false"),
      "customer_preferred_export_rule": ("pv_only", "battery_ok")}),
    (["set", "ev-reserve", "40"], "off_grid_vehicle_charging_reserve",
     {"off_grid_vehicle_charging_reserve_percent": ("40", "20")}),
]


def _site_value(info: dict, setting: str):
    sources = (info, info["user_settings"], info["components"])
    return next((s[setting] for s in sources if setting in s), False)


def _events(influxd, db: str) -> dict[str, dict]:
    rows = influxd.query('SELECT "value", "previous" FROM "control_event" GROUP BY *', db=db)
    return {row["setting"]: row for row in rows}


@pytest.mark.parametrize(("argv", "endpoint", "expected"), CASES,
                         ids=[c[1] for c in CASES])
def test_confirmed_change_is_applied_and_recorded(influx_env, sim, site_id, influxd, capsys,
                                                  argv, endpoint, expected):
    assert main([*argv, "--yes"]) == 0
    out = capsys.readouterr().out
    assert "done: site_info confirms the change" in out
    assert logged(sim, endpoint, 1, status=200) == 1
    info = sim.site_info(site_id)
    events = _events(influxd, influx_env)
    assert set(events) == set(expected)
    for setting, (value, previous) in expected.items():
        assert f"{setting}: {previous} -> {value}" in out
        assert json.dumps(_site_value(info, setting)).strip('"') == value
        assert events[setting]["value"] == value
        assert events[setting]["previous"] == previous
        assert events[setting]["site_id"] == str(site_id)


def test_dry_run_prints_path_and_body_and_posts_nothing(cli_env, site_id, capsys):
    assert main(["set", "backup-reserve", "35", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"dry run: would send POST /api/1/energy_sites/{site_id}/backup" in out
    assert json.loads(out[out.index("{"):]) == {"backup_reserve_percent": 35}
    assert logged(cli_env, "site_info", 1) == 1
    assert requests_sent(cli_env, "backup") == 0
    assert cli_env.site_info(site_id)["backup_reserve_percent"] == 20


def test_unchanged_value_sends_nothing(cli_env, capsys):
    assert main(["set", "backup-reserve", "20", "--yes"]) == 0
    assert "nothing to change" in capsys.readouterr().out
    assert requests_sent(cli_env, "backup") == 0


def test_tariff_set_uploads_and_records(influx_env, sim, site_id, influxd, capsys):
    path = FIXTURES / "three_season.json"
    assert main(["tariff", "set", str(path), "--yes"]) == 0
    out = capsys.readouterr().out
    assert "Season Summer (Jun 1 - Sep 30)" in out
    assert "tariff_content_v2: Simulated Time of Use (SIM-TOU-1) sha256:" in out
    stored = sim.site_info(site_id)["tariff_content_v2"]
    assert stored == json.loads(path.read_text())
    event = _events(influxd, influx_env)["tariff_content_v2"]
    assert event["value"].startswith("Three-season time of use (TOU-3) sha256:")
    assert event["previous"].startswith("Simulated Time of Use (SIM-TOU-1) sha256:")


def test_tariff_set_dry_run_prints_the_exact_body(cli_env, site_id, capsys):
    path = FIXTURES / "flat.json"
    assert main(["tariff", "set", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"POST /api/1/energy_sites/{site_id}/time_of_use_settings" in out
    body = json.loads(out[out.index("{", out.index("dry run")):])
    assert body == {"tou_settings": {"tariff_content_v2": json.loads(path.read_text())}}
    assert requests_sent(cli_env, "time_of_use_settings") == 0


def test_tariff_show_reads_the_site_tariff(cli_env, site_id, capsys):
    assert main(["tariff", "show", "--site", str(site_id)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Tariff: Simulated Time of Use")
    assert "Season Summer (Jun 1 - Sep 30)" in out and "Season Winter (Oct 1 - May 31)" in out
    assert "    16:00-21:00  ON_PEAK          buy 0.5500  sell 0.0800" in out
