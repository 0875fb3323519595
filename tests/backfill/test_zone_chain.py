"""The one zone chain (``resolve_site``): configuration -> site_info -> history reply's zone ->
its offset as a fixed offset, with the probe request sent only when it is needed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from structlog.testing import capture_logs

from collector.backfill.convert import WrongDay, check_day
from collector.backfill.site import SiteContext, resolve_site
from collector.backfill.windows import plan_days, window
from collector.errors import ConfigError
from collector.source import FleetClient, TokenManager
from collector.zones import fixed_zone_name, zone_of
from tests.support.fleet import FleetMock, Scripted

NOW = datetime(2024, 7, 2, 18, 0, tzinfo=UTC)
SITE_INFO = {"site_name": "Home", "installation_date": "2022-01-01T13:00:00-08:00",
             "installation_time_zone": ""}


def history(zone: str | None = None, offset: int | None = None, *rows: str) -> dict:
    """A calendar_history kind=energy reply naming ``zone`` and/or ``offset``, one row per
    timestamp given."""
    reply: dict = {"serial_number": "1118431-00-L--TG1", "period": "day",
                   "time_series": [{"timestamp": t, "solar_energy_exported": 5} for t in rows]}
    if zone is not None:
        reply["installation_time_zone"] = zone
    if offset is not None:
        reply["time_zone_offset"] = offset
    return reply


def client_for(info: dict, *replies: dict) -> tuple[FleetClient, FleetMock]:
    mock = FleetMock()
    mock.script("site_info", Scripted(body={"response": info}))
    mock.script("calendar_history", *(Scripted(body={"response": r}) for r in replies))
    tokens = TokenManager(auth_url="http://auth.invalid/token", client_id="",
                          access_token="test-access-token")
    return FleetClient("http://fleet.invalid", tokens, transport=mock.transport), mock


def resolve(info: dict, *replies: dict, config: str = "") -> tuple[SiteContext, FleetMock]:
    client, mock = client_for(info, *replies)
    return resolve_site(client, 9, config, clock=lambda: NOW), mock


def test_the_configuration_comes_first_and_a_disagreeing_site_info_is_named():
    with capture_logs() as logs:
        site, mock = resolve({**SITE_INFO, "installation_time_zone": "America/Denver"},
                             config="Europe/Berlin")
    assert (site.zone_name, site.zone_source) == ("Europe/Berlin", "config")
    assert site.installed == date(2022, 1, 1)  # 13:00-08:00 is 22:00 in Berlin
    assert not mock.calls("calendar_history")  # no probe: the zone was known
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == [
        "TESLA_TIME_ZONE differs from site_info's installation_time_zone; using TESLA_TIME_ZONE"]


def test_site_info_comes_before_the_history_reply_without_a_probe():
    site, mock = resolve({**SITE_INFO, "installation_time_zone": "America/Denver"})
    assert (site.zone_name, site.zone_source) == ("America/Denver", "site_info")
    assert not mock.calls("calendar_history")


def test_an_empty_site_info_zone_probes_today_without_knowing_the_zone():
    site, mock = resolve(SITE_INFO, history("America/Los_Angeles"))
    assert (site.zone_name, site.zone_source) == ("America/Los_Angeles", "history")
    (probe,) = mock.calls("calendar_history")
    assert probe.url.params["end_date"] == "2024-07-02T18:00:00+00:00"  # now: today everywhere
    assert probe.url.params["period"] == "day" and "time_zone" not in probe.url.params


def test_a_reply_with_only_time_zone_offset_gives_a_fixed_offset_and_one_warning():
    with capture_logs() as logs:
        site, _ = resolve(SITE_INFO, history(None, -420))
    assert (site.zone_name, site.zone_source) == ("Etc/GMT+7", "history offset")
    assert site.fixed_offset and site.request_zone == ""
    assert site.zone.utcoffset(NOW) == timedelta(hours=-7)
    assert site.describe_zone() == "Etc/GMT+7 = UTC-07:00 (from history offset)"
    warnings = [e["event"] for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1 and "TESLA_TIME_ZONE" in warnings[0]
    assert "UTC-07:00" in warnings[0]


def test_the_buckets_own_offset_wins_over_a_standard_time_zone_offset():
    # Tesla reported time_zone_offset -420 (MST) in summer while the buckets carry -06:00.
    site, _ = resolve(SITE_INFO, history(None, -420, "2024-07-02T00:00:00-06:00"))
    assert site.zone_name == "Etc/GMT+6"


def test_a_half_hour_offset_is_a_named_fixed_zone():
    site, _ = resolve(SITE_INFO, history("", None, "2024-07-02T00:00:00+09:30"))
    assert site.zone_name == "UTC+09:30"
    assert site.zone.utcoffset(NOW) == timedelta(hours=9, minutes=30)
    assert site.today(lambda: NOW) == date(2024, 7, 3)  # 03:30 on the 3rd in UTC+09:30


def test_yesterday_is_probed_when_today_says_nothing():
    site, mock = resolve(SITE_INFO, history(), history("Australia/Adelaide"))
    assert site.zone_name == "Australia/Adelaide"
    first, second = mock.calls("calendar_history")
    assert second.url.params["end_date"] == "2024-07-01T18:00:00+00:00"


def test_no_zone_anywhere_names_the_setting():
    with pytest.raises(ConfigError, match="TESLA_TIME_ZONE"):
        resolve(SITE_INFO, history(""), history())


def test_unknown_zone_names_are_ignored():
    site, _ = resolve({**SITE_INFO, "installation_time_zone": "Mars/Olympus"},
                      history("America/Phoenix"), config="Not/AZone")
    assert (site.zone_name, site.zone_source) == ("America/Phoenix", "history")


@pytest.mark.parametrize(("minutes", "name"), [
    (-420, "Etc/GMT+7"), (60, "Etc/GMT-1"), (0, "UTC"), (330, "UTC+05:30"),
    (-570, "UTC-09:30"), (345, "UTC+05:45")])
def test_fixed_zone_names_keep_the_offset(minutes, name):
    assert fixed_zone_name(minutes) == name
    assert zone_of(name).utcoffset(NOW) == timedelta(minutes=minutes)


def test_a_fixed_offset_checks_the_day_in_the_buckets_own_offset():
    fixed = zone_of("Etc/GMT+7")
    day = date(2024, 7, 2)
    win = window(5, "energy", day, day, fixed)
    assert win.end.isoformat() == "2024-07-02T23:59:59-07:00"
    # A Denver summer day starts at 00:00-06:00, which is 23:00 the day before at UTC-07:00:
    reply = history(None, -420, "2024-07-02T00:00:00-06:00")
    assert len(check_day(win, reply, fixed, fixed=True)) == 1
    with pytest.raises(WrongDay):  # the same check in the fixed zone would misjudge the day
        check_day(win, reply, fixed)
    with pytest.raises(WrongDay):  # and a reply for the next day is still caught
        check_day(win, history(None, -420, "2024-07-03T00:00:00-06:00"), fixed, fixed=True)


def test_windows_in_a_half_hour_fixed_zone():
    zone = timezone(timedelta(minutes=330), "UTC+05:30")
    (win,) = plan_days(5, [date(2024, 3, 10)], zone)
    assert (win.start.isoformat(), win.end.isoformat()) == (
        "2024-03-10T00:00:00+05:30", "2024-03-10T23:59:59+05:30")
