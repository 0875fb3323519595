"""What each command does with a refusing or unreachable InfluxDB (real influxd, simulator).

At start (``run --once``, ``backfill``, ``set``, ``tariff set``): one line naming the URL, the
database, what InfluxDB said and the setting to change, exit 2, before any Fleet API request or
change. Mid-run (the refusal begins after the probe): every point is kept in the spool, the
command ends with "N points kept in the spool, not written: ..." and exit 1, and after the fix
the next run replays them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from collector import app
from collector.cli import main
from collector.log import redact_text
from collector.sim import SimConfig, SimServer
from tests.support import InfluxServer
from tests.support.settings import set_cli_env

TOKEN = "commands-test-token"
TARIFF = Path(__file__).resolve().parents[1] / "fixtures" / "tariffs" / "flat.json"


@pytest.fixture
def sim() -> Iterator[SimServer]:
    config = SimConfig(sites=1, seed=4, token=TOKEN,
                       installation_date=date(2024, 6, 1))
    with SimServer(config) as server:
        yield server


@pytest.fixture
def writer(auth_influxd: InfluxServer) -> tuple[str, str]:
    """A fresh database and a user that may write to it: (database, "user:password")."""
    tag = uuid.uuid4().hex[:8]
    database = auth_influxd.create_database(f"c_{tag}")
    return database, auth_influxd.create_user(f"cw_{tag}", "cw-secret", write=database)


@pytest.fixture
def env(monkeypatch, sim: SimServer, auth_influxd: InfluxServer, writer, tmp_state_dir):
    database, token = writer
    values = {"TESLA_ACCESS_TOKEN": TOKEN, "TESLA_MAX_RETRIES": "0", "INFLUX_TOKEN": token}
    set_cli_env(monkeypatch, sim.base_url, auth_influxd.url, database, tmp_state_dir, **values)
    monkeypatch.delenv("TESLA_REFRESH_TOKEN", raising=False)
    return {"TESLA_API_URL": sim.base_url, "INFLUX_URL": auth_influxd.url,
            "INFLUX_BUCKET": f"{database}/autogen",
            "database": database, "state": str(tmp_state_dir), **values}


def _expected(line: str) -> str:
    """The CLI's error line for ``line``: the CLI passes every message through the log
    redaction (``str(exc)`` itself is checked exactly in test_refusals.py)."""
    return f"tesla-energy: error: {redact_text(line)}"


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("tesla-energy: error:")]
    assert len(errors) == 1, err
    return errors[0]


COMMANDS = {
    "run": ["run"],
    "run --once": ["run", "--once"],
    "backfill": ["backfill", "--start", "2024-06-10", "--end", "2024-06-11"],
    "set": ["set", "backup-reserve", "35", "--yes"],
    "tariff set": ["tariff", "set", str(TARIFF), "--yes"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_wrong_token_stops_every_command_at_start(command, env, monkeypatch, sim, capsys):
    monkeypatch.setenv("INFLUX_TOKEN", env["INFLUX_TOKEN"].split(":")[0] + ":not-it")
    assert main(COMMANDS[command]) == 2
    line = _one_line(capsys)
    database = env["INFLUX_BUCKET"].split("/")[0]
    assert line == _expected(
        f"InfluxDB at {env['INFLUX_URL']} refused writes to database \"{database}\" "
        '(retention policy "autogen"): HTTP 401 authorization failed; set INFLUX_TOKEN to '
        f'user:password of an InfluxDB user that may write to "{database}"')
    assert "not-it" not in line
    assert sim.requests.count() == 0  # no Fleet API request, nothing changed


def test_the_demo_stops_at_start_on_a_wrong_token(env, monkeypatch, capsys):
    monkeypatch.setenv("INFLUX_TOKEN", env["INFLUX_TOKEN"].split(":")[0] + ":not-it")
    assert main(["demo", "--days", "0"]) == 2
    assert "HTTP 401 authorization failed" in _one_line(capsys)


@pytest.mark.parametrize("command", ["run --once", "backfill"])
def test_a_missing_database_stops_at_start(command, env, monkeypatch, sim, capsys):
    monkeypatch.setenv("INFLUX_BUCKET", "never_created/autogen")
    assert main(COMMANDS[command]) == 2
    assert 'HTTP 404 database not found: "never_created"; create the database' in \
        _one_line(capsys)
    assert sim.requests.count() == 0


def _refuse_after_probe(monkeypatch, module: Any, server: InfluxServer, writer) -> None:
    """The refusal begins mid-run: right after the start-up probe passed, the user's WRITE
    grant is revoked (as an administrator would)."""
    database, token = writer
    real: Callable[..., Any] = module.open_sink

    def probe_then_revoke(*args: Any, **kwargs: Any) -> Any:
        sink = real(*args, **kwargs)
        server.raw_query(f'REVOKE WRITE ON "{database}" FROM "{token.split(":")[0]}"',
                         method="POST")
        return sink

    monkeypatch.setattr(module, "open_sink", probe_then_revoke)


def _restore(monkeypatch, env: dict) -> None:
    """The environment again after ``monkeypatch.undo()`` dropped the open_sink hook."""
    set_cli_env(monkeypatch, env["TESLA_API_URL"], env["INFLUX_URL"], env["database"],
                Path(env["state"]), TESLA_ACCESS_TOKEN=TOKEN, TESLA_MAX_RETRIES="0",
                INFLUX_TOKEN=env["INFLUX_TOKEN"])


def _regrant(server: InfluxServer, writer) -> None:
    database, token = writer
    server.raw_query(f'GRANT WRITE ON "{database}" TO "{token.split(":")[0]}"', method="POST")


def _spooled(state: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in (state / "spool").glob("*.lp"))


def test_run_once_refused_mid_run_exits_1_and_replays_after_the_fix(
        env, monkeypatch, auth_influxd, writer, tmp_state_dir, capsys):
    _refuse_after_probe(monkeypatch, app, auth_influxd, writer)
    assert main(["run", "--once"]) == 1
    kept = _spooled(tmp_state_dir)
    assert kept > 0
    assert _one_line(capsys) == _expected(
        f"{kept} points kept in the spool, not written: InfluxDB answered 403 "
        f'"{writer[1].split(":")[0]}" user is not authorized to write to database '
        f'"{writer[0]}"; fix INFLUX_TOKEN and run again')
    monkeypatch.undo()
    _restore(monkeypatch, env)
    _regrant(auth_influxd, writer)
    assert main(["run", "--once"]) == 0
    assert _spooled(tmp_state_dir) == 0
    assert auth_influxd.query('SELECT count("load_power") FROM "live_status"', db=writer[0])


def test_backfill_refused_mid_run_stops_keeps_the_points_and_resumes(
        env, monkeypatch, auth_influxd, writer, sim, tmp_state_dir, capsys):
    import collector.sink  # the backfill command imports open_sink from it when it runs

    _refuse_after_probe(monkeypatch, collector.sink, auth_influxd, writer)
    assert main(COMMANDS["backfill"]) == 1
    out = capsys.readouterr().out
    kept = _spooled(tmp_state_dir)
    assert kept > 0
    assert (f"backfill stopped: {kept} points kept in the spool, not written: InfluxDB "
            "answered 403") in out and "and run again" in out
    assert "backfill complete" not in out
    monkeypatch.undo()
    _restore(monkeypatch, env)
    _regrant(auth_influxd, writer)
    assert main(COMMANDS["backfill"]) == 0
    assert "backfill complete" in capsys.readouterr().out
    assert _spooled(tmp_state_dir) == 0
    rows = auth_influxd.query('SELECT count("total_home_usage") FROM "energy_history"',
                              db=writer[0])
    assert rows and rows[0]["count"] == 2 * 288  # two whole days of 5-minute buckets


def test_set_refused_mid_run_changes_the_setting_keeps_its_record_and_exits_1(
        env, monkeypatch, auth_influxd, writer, sim, capsys):
    import collector.sink

    _refuse_after_probe(monkeypatch, collector.sink, auth_influxd, writer)
    assert main(COMMANDS["set"]) == 1
    assert sim.site_info(sim.site_ids[0])["backup_reserve_percent"] == 35
    assert _one_line(capsys).endswith(redact_text("fix INFLUX_TOKEN and run again"))


def test_set_with_influxdb_unreachable_changes_and_says_the_record_waits(
        env, monkeypatch, sim, tmp_state_dir, capsys):
    monkeypatch.setenv("INFLUX_URL", "http://127.0.0.1:9")
    assert main(COMMANDS["set"]) == 0  # the change is made; InfluxDB is merely down
    assert sim.site_info(sim.site_ids[0])["backup_reserve_percent"] == 35
    assert _spooled(tmp_state_dir) == 1
    assert "points_kept_in_spool" in capsys.readouterr().err


def test_backfill_missing_with_influxdb_unreachable_names_the_url(env, monkeypatch, capsys):
    monkeypatch.setenv("INFLUX_URL", "http://127.0.0.1:9")
    assert main([*COMMANDS["backfill"], "--missing"]) == 1
    line = _one_line(capsys)
    assert line == ("tesla-energy: error: cannot read from InfluxDB at http://127.0.0.1:9: "
                    "connection refused; check INFLUX_URL and that InfluxDB is running")
    assert "NewConnectionError" not in line


def test_run_once_with_influxdb_unreachable_keeps_the_points_and_exits_1(
        env, monkeypatch, tmp_state_dir, capsys):
    monkeypatch.setenv("INFLUX_URL", "http://127.0.0.1:9")
    assert main(["run", "--once"]) == 1
    kept = _spooled(tmp_state_dir)
    assert kept > 0 and _one_line(capsys) == (
        f"tesla-energy: error: {kept} points kept in the spool, not written: InfluxDB at "
        "http://127.0.0.1:9 did not take them (cannot reach InfluxDB: connection refused); "
        "start InfluxDB or fix INFLUX_URL and run again: the spool is written first")
