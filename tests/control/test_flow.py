"""The control flow's refusals and failure reports, with the Fleet API faked at the HTTP
boundary (recorded-shape site_info): capabilities, and a change the site does not show."""

from __future__ import annotations

import copy
import io

import httpx
import pytest

from collector.config import load_settings
from collector.control import Capability, Change, ChangeNotApplied, Options, apply_change
from collector.errors import UsageError
from collector.sink import LineProtocolPrinter
from collector.source import build_client
from tests.support.fleet import fleet_transport, load_payload

SITE = 1
INFO_PATH = f"/api/1/energy_sites/{SITE}/site_info"
STORM = Change("storm_mode", {"enabled": False}, {"storm_mode_enabled": False},
               Capability("storm_mode_capable"))
EV = Change("off_grid_vehicle_charging_reserve", {"off_grid_vehicle_charging_reserve_percent": 30},
            {"off_grid_vehicle_charging_reserve_percent": 30},
            Capability("off_grid_vehicle_charging_reserve_supported", absent_ok=True))


def _client(tmp_path, site_info: dict, sent: list[httpx.Request]):
    settings = load_settings(None, environ={"TESLA_API_URL": "http://fleet.test",
                                            "TESLA_ACCESS_TOKEN": "flow-token",
                                            "COLLECTOR_STATE_DIR": str(tmp_path)})
    routes = {INFO_PATH: {"response": site_info},
              f"/api/1/energy_sites/{SITE}/storm_mode": {"response": {"code": 201}},
              f"/api/1/energy_sites/{SITE}/off_grid_vehicle_charging_reserve":
                  {"response": {"code": 201}}}
    return build_client(settings, transport=fleet_transport(routes, sent))


def _info(**components) -> dict:
    info = copy.deepcopy(load_payload("site_info")["response"])
    info["components"].update(components)
    return info


def _posts(sent: list[httpx.Request]) -> list[httpx.Request]:
    return [r for r in sent if r.method == "POST"]


def test_storm_mode_refused_when_the_site_is_not_capable(tmp_path):
    sent: list[httpx.Request] = []
    with _client(tmp_path, _info(storm_mode_capable=False), sent) as client, \
            pytest.raises(UsageError, match="components.storm_mode_capable is false"):
        apply_change(client, None, SITE, STORM, Options(yes=True, out=io.StringIO()))
    assert _posts(sent) == []


def test_ev_reserve_refused_only_when_the_flag_says_unsupported(tmp_path):
    sent: list[httpx.Request] = []
    with _client(tmp_path, _info(off_grid_vehicle_charging_reserve_supported=False),
                 sent) as client, pytest.raises(UsageError, match="does not support"):
        apply_change(client, None, SITE, EV, Options(yes=True, out=io.StringIO()))
    info = _info()
    del info["components"]["off_grid_vehicle_charging_reserve_supported"]
    with _client(tmp_path, info, sent) as client, pytest.raises(ChangeNotApplied):
        apply_change(client, None, SITE, EV, Options(yes=True, out=io.StringIO()))
    assert len(_posts(sent)) == 1  # absent flag: the command was sent


def test_change_not_visible_afterwards_is_reported_and_not_recorded(tmp_path):
    """The fake accepts the POST but site_info keeps the old value."""
    sent: list[httpx.Request] = []
    lines = io.StringIO()
    with _client(tmp_path, _info(), sent) as client, \
            pytest.raises(ChangeNotApplied) as caught:
        apply_change(client, LineProtocolPrinter(lines), SITE, STORM,
                     Options(yes=True, out=io.StringIO()))
    assert "storm_mode_enabled is true, expected false" in str(caught.value)
    assert caught.value.exit_code == 1
    assert [r.url.path for r in _posts(sent)] == [f"/api/1/energy_sites/{SITE}/storm_mode"]
    assert lines.getvalue() == ""


def test_confirmation_on_a_terminal(tmp_path):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    sent: list[httpx.Request] = []
    out = io.StringIO()
    with _client(tmp_path, _info(), sent) as client, pytest.raises(ChangeNotApplied):
        apply_change(client, None, SITE, STORM, Options(out=out, stdin=Tty("y\n")))
    assert "storm_mode_enabled: true -> false" in out.getvalue()
    assert "Apply this change? [y/N]" in out.getvalue()
    assert len(_posts(sent)) == 1
