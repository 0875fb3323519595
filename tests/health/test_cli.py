"""``tesla-energy battery`` and ``tesla-energy outages`` run as a user runs them: the
simulator as the Fleet API, the real influxd."""

from __future__ import annotations

from datetime import date

import pytest

from collector.cli import main
from tests.support.settings import set_cli_env


@pytest.mark.parametrize("command", ["battery", "outages"])
@pytest.mark.parametrize(("argv", "message"), [
    (["--start", "2024-13-01"], "is not a date"),
    (["--start", "2024-03-10", "--end", "2024-03-01"], "is after --end"),
    (["--site", "abc"], "abc"),
])
def test_bad_arguments_exit_2_with_one_line(command, argv, message, capsys, monkeypatch):
    monkeypatch.setenv("TESLA_API_URL", "http://127.0.0.1:9")  # never contacted

    with pytest.raises(SystemExit) as exited:
        raise SystemExit(main([command, *argv]))
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.integration
def test_reports_after_a_backfill(run, sim, influxd, influx_db, tmp_state_dir, monkeypatch,
                                  capsys):
    set_cli_env(monkeypatch, sim.base_url, influxd.url, influx_db, tmp_state_dir,
                COLLECTOR_LOG_LEVEL="warning")
    site = str(sim.site_ids[0])
    assert main(["battery", "--site", site, "--start", "2024-10-01"]) == 1  # nothing yet
    assert "tesla-energy backfill" in capsys.readouterr().err
    run(date(2024, 1, 1), date(2024, 11, 30), kinds=("energy", "backup"))
    assert main(["battery", "--site", site, "--start", "2024-10-01"]) == 0
    out = capsys.readouterr().out
    assert [line[:7] for line in out.splitlines()[1:4]] == ["2024-10", "2024-11", "nameplat"[:7]]
    assert "capacity trend: not enough capacity estimates" in out  # no live data collected
    assert main(["outages", "--site", site, "--start", "2024-01-01"]) == 0
    out = capsys.readouterr().out
    events = influxd.query(f"SELECT duration_seconds FROM backup_event WHERE site_id = '{site}'",
                           db=influx_db)
    rows = [line for line in out.splitlines() if line.startswith("2024-") and "T" in line[:11]]
    assert len(rows) == len(events) > 0
