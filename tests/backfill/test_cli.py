"""``tesla-energy backfill`` argument errors: one line, exit 2, before any network access."""

from __future__ import annotations

import pytest

from collector.cli import main


@pytest.mark.parametrize(("argv", "message"), [
    (["--start", "2024-13-01"], "is not a date"),
    (["--end", "yesterday"], "is not a date"),
    (["--start", "2024-03-10", "--end", "2024-03-01"], "is after --end"),
    (["--kind", "energy,power"], "unknown kind power"),
    (["--kind", ","], "unknown kind"),
    (["--concurrency", "0"], "must be 1 or more"),
    (["--concurrency", "two"], "not a whole number"),
    (["--rate", "0"], "greater than 0"),
    (["--site", "abc"], "not a numeric energy_site_id"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys, monkeypatch):
    monkeypatch.setenv("TESLA_API_URL", "http://127.0.0.1:9")  # never contacted
    with pytest.raises(SystemExit) as exited:
        code = main(["backfill", *argv])
        raise SystemExit(code)
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1


@pytest.fixture
def cli_env(monkeypatch, sim, influxd, influx_db, tmp_state_dir):
    env = {"TESLA_API_URL": sim.base_url, "TESLA_ACCESS_TOKEN": "sim-access-token",
           "INFLUX_URL": influxd.url, "INFLUX_BUCKET": f"{influx_db}/autogen", "INFLUX_ORG": "-",
           "COLLECTOR_STATE_DIR": str(tmp_state_dir), "COLLECTOR_BACKFILL_RATE": "200",
           "COLLECTOR_LOG_FORMAT": "json"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("COLLECTOR_CONFIG", "TESLA_SITE_IDS", "TESLA_TIME_ZONE"):
        monkeypatch.delenv(key, raising=False)
    return env


@pytest.mark.integration
def test_dry_run_prints_the_plan_and_sends_no_history_request(cli_env, sim, capsys):
    site = sim.site_ids[0]
    code = main(["backfill", "--site", str(site), "--start", "2024-03-09", "--end",
                 "2024-03-11", "--kind", "energy,charge", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert "zone America/Los_Angeles (from site_info)" in out
    assert "energy       3 requests       3 days  2024-03-09..2024-03-11" in out
    assert "2024-03-11T00:00:00-07:00 .. 2024-03-11T23:59:59-07:00 period=day" in out
    assert "charge       1 requests" in out and "backup" not in out
    assert sim.requests.count("calendar_history") == sim.requests.count("telemetry_history") == 0


@pytest.mark.integration
def test_backfill_command_imports_and_prints_a_summary(cli_env, sim, influxd, influx_db, capsys):
    site = sim.site_ids[0]
    code = main(["backfill", "--start", "2024-03-09", "--end", "2024-03-11", "--kind", "energy"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[-1].startswith("backfill complete")
    rows = influxd.query("SELECT count(total_home_usage) FROM energy_history GROUP BY site_id",
                         db=influx_db)
    assert {int(r["site_id"]): r["count"] for r in rows} == {
        site: 288 + 276 + 288, sim.site_ids[1]: 3 * 288}
    assert f"{site:>16} energy         3      852" in out


@pytest.mark.integration
def test_dry_run_resolves_a_zone_less_site_like_the_run(cli_env, sim, capsys):
    """The site_info of the Adelaide site reports ``installation_time_zone: ""``: the dry run
    learns the zone from one probe of the history reply, as the import does, instead of
    stopping with "time zone unknown"."""
    site = sim.site_ids[1]
    assert sim.site_info(site)["installation_time_zone"] == ""
    code = main(["backfill", "--site", str(site), "--start", "2024-03-09", "--end",
                 "2024-03-11", "--kind", "energy", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "zone Australia/Adelaide (from history)" in out
    assert "2024-03-11T00:00:00+10:30 .. 2024-03-11T23:59:59+10:30 period=day" in out
    assert sim.requests.count("calendar_history") == 1  # the probe; nothing is imported
    assert out.splitlines()[-1].endswith("nothing was imported")


@pytest.mark.integration
@pytest.mark.parametrize(("argv", "reason"), [
    (["--start", "2030-01-01"], "--start 2030-01-01 is after the site's today"),
    (["--start", "2001-01-01", "--end", "2001-01-31"],
     "the range ends 2001-01-31, before the installation date"),
])
def test_a_range_with_no_day_of_history_says_why_and_exits_2(cli_env, sim, capsys, argv,
                                                              reason):
    """Not "0 history requests" and exit 0: the user learns why nothing was imported."""
    site = sim.site_ids[0]
    code = main(["backfill", "--site", str(site), *argv, "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "nothing to import" in err and reason in err
    assert sim.requests.count("calendar_history") == 0


@pytest.mark.integration
def test_a_retry_after_beyond_the_limit_stops_the_backfill_saying_when(cli_env, sim, capsys):
    """Issue 11 case 5: a Retry-After of an hour ends the run at once (exit 1) with one line
    saying when to retry, instead of holding the command for an hour."""
    sim.set_faults(rate_limit=1, rate_window_seconds=3600,
                   endpoints=frozenset({"calendar_history"}))
    site = sim.site_ids[0]
    code = main(["backfill", "--site", str(site), "--start", "2024-03-01", "--end",
                 "2024-03-10", "--kind", "energy", "--concurrency", "1"])
    captured = capsys.readouterr()
    said = captured.out + captured.err
    assert code == 1
    assert "backfill stopped: calendar_history: HTTP 429 Rate limit exceeded: the Fleet API " \
        "asks to wait 3600 s, longer than 900 s; try again after" in said
    assert sim.requests.count("calendar_history") <= 3  # no retry loop against the limit
