"""Refusals are not outages, against the real influxd: the start-up probe (no data written) and
refusals that start mid-run, on both write paths (1.x ``/write`` direct, ``/api/v2/write``
through the gateway playing 2.x)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from collector.errors import InfluxRefused
from collector.sink import InfluxSink, open_sink
from tests.support import InfluxServer, make_settings


@dataclass
class AuthDb:
    server: InfluxServer
    name: str
    writer: str  # "user:password" with WRITE only
    reader: str  # "user:password" with READ only


@pytest.fixture
def auth_db(auth_influxd: InfluxServer) -> AuthDb:
    tag = uuid.uuid4().hex[:8]
    name = auth_influxd.create_database(f"a_{tag}")
    return AuthDb(auth_influxd, name,
                  auth_influxd.create_user(f"w_{tag}", "writer-secret-pass", write=name),
                  auth_influxd.create_user(f"r_{tag}", "reader-secret-pass", read=name))


def _lines(start: int, count: int) -> list[str]:
    return [f"m,site_id=1 v={i}.0 {1700000000 + i}" for i in range(start, start + count)]


# --- the start-up probe, 1.x natively ---


def test_probe_refuses_a_wrong_password_naming_url_database_and_fix(
        auth_db: AuthDb, tmp_state_dir: Path) -> None:
    user = auth_db.writer.split(":")[0]
    settings = make_settings(auth_db.server.url, auth_db.name, tmp_state_dir,
                             token=f"{user}:wrong-password")
    with pytest.raises(InfluxRefused) as refused:
        open_sink(settings)
    assert str(refused.value) == (
        f'InfluxDB at {auth_db.server.url} refused writes to database "{auth_db.name}" '
        '(retention policy "autogen"): HTTP 401 authorization failed; set INFLUX_TOKEN to '
        f'user:password of an InfluxDB user that may write to "{auth_db.name}"')
    assert refused.value.exit_code == 2
    assert "wrong-password" not in str(refused.value)


def test_probe_refuses_a_user_without_write_permission(auth_db: AuthDb,
                                                       tmp_state_dir: Path) -> None:
    settings = make_settings(auth_db.server.url, auth_db.name, tmp_state_dir,
                             token=auth_db.reader)
    with pytest.raises(InfluxRefused, match=r"HTTP 403 .* is not authorized to write.*GRANT "
                                            r"WRITE ON"):
        open_sink(settings)


def test_probe_refuses_a_missing_database_and_a_missing_policy(
        influxd: InfluxServer, influx_db: str, tmp_state_dir: Path) -> None:
    missing = make_settings(influxd.url, "no_such_database", tmp_state_dir)
    with pytest.raises(InfluxRefused, match=r'HTTP 404 database not found: "no_such_database"; '
                                            r'create the database \(CREATE DATABASE'):
        open_sink(missing)
    policy = make_settings(influxd.url, influx_db, tmp_state_dir, policy="weekly")
    with pytest.raises(InfluxRefused, match=r"HTTP 500 retention policy not found: weekly; "
                                            r"create the retention policy"):
        open_sink(policy)


@pytest.mark.parametrize(("url_of", "api"), [("url", "v1"), ("gateway_url", "v2")])
def test_probe_with_a_write_only_user_passes_and_writes_nothing(
        url_of: str, api: str, auth_db: AuthDb, tmp_state_dir: Path) -> None:
    """1.x answers the empty write 204; the gateway, as 2.x, 400 "writing requires points"."""
    settings = make_settings(getattr(auth_db.server, url_of), auth_db.name, tmp_state_dir,
                             token=auth_db.writer)
    with open_sink(settings) as sink:
        assert isinstance(sink, InfluxSink) and sink.state == "up" and sink.target.api == api
        assert auth_db.server.query("SHOW SERIES", db=auth_db.name) == []
        assert sink.write(_lines(0, 3)).written == 3
        with pytest.raises(InfluxRefused, match=r"refused a read .* HTTP 403 .*requires READ"):
            sink.query_influxql('SELECT count("v") FROM "m"')  # a write-only token
    assert len(auth_db.server.query('SELECT v FROM "m"', db=auth_db.name)) == 3


def test_a_v2_path_on_a_1x_server_is_named_a_wrong_url(influxd: InfluxServer, influx_db: str,
                                                       tmp_state_dir: Path) -> None:
    """What Debian's 1.6.7 really answers at /api/v2/write (the endpoint it lacks)."""
    sink = InfluxSink(make_settings(influxd.url, influx_db, tmp_state_dir))
    try:
        sink.target = sink.target.detected("2.7.12")  # as if /ping had said so
        with pytest.raises(InfluxRefused, match=r"HTTP 404 404 page not found; set INFLUX_URL "
                                                r".*serves /api/v2/write"):
            sink.check_target()
    finally:
        sink.close()


# --- the start-up probe, v2 path (gateway answering as InfluxDB 2.x) ---


def test_v2_probe_refuses_a_wrong_token_and_a_missing_bucket(
        auth_db: AuthDb, tmp_state_dir: Path) -> None:
    url = auth_db.server.gateway_url
    wrong = make_settings(url, auth_db.name, tmp_state_dir, token="w:not-the-token")
    with pytest.raises(InfluxRefused) as refused:
        open_sink(wrong)
    assert str(refused.value) == (
        f'InfluxDB at {url} refused writes to bucket "{auth_db.name}/autogen" (org "-"): HTTP '
        f'401 unauthorized access; set INFLUX_TOKEN to an API token with write access to '
        f'"{auth_db.name}/autogen"')
    missing = make_settings(url, "nope", tmp_state_dir, token=auth_db.writer)
    with pytest.raises(InfluxRefused, match=r'HTTP 404 bucket "nope/autogen" not found; create '
                                            r"the bucket or set INFLUX_BUCKET"):
        open_sink(missing)


def test_unreachable_at_start_is_said_once_and_spools(tmp_state_dir: Path) -> None:
    settings = make_settings("http://127.0.0.1:9", "db", tmp_state_dir)
    with capture_logs() as logs:
        sink = open_sink(settings)
        assert sink.write(_lines(0, 2)).spooled == 2
        sink.write(_lines(2, 1))
    assert [e["event"] for e in logs].count("influxdb_unreachable_at_start") == 1
    assert sink.undelivered() == (
        "3 points kept in the spool, not written: InfluxDB at http://127.0.0.1:9 did not take "
        "them (cannot reach InfluxDB: connection refused); start InfluxDB or fix INFLUX_URL "
        "and run again: the spool is written first")
    sink.close()


# --- refusals that start mid-run ---


def test_password_changed_mid_run_keeps_everything_and_replays_after_the_fix(
        auth_db: AuthDb, tmp_state_dir: Path) -> None:
    user, password = auth_db.writer.split(":")
    settings = make_settings(auth_db.server.url, auth_db.name, tmp_state_dir,
                             token=auth_db.writer)
    sink = open_sink(settings)
    assert sink.write(_lines(0, 1)).written == 1
    auth_db.server.raw_query(f"SET PASSWORD FOR \"{user}\" = 'rotated'", method="POST")
    with capture_logs() as logs:
        kept = [sink.write(_lines(1 + 2 * k, 2)).spooled for k in range(3)]
    assert kept == [2, 2, 2] and sink.spool_points == 6 and sink.state == "refused"
    assert [e["event"] for e in logs].count("influxdb_refused_writes") == 1
    assert sink.undelivered() == ("6 points kept in the spool, not written: InfluxDB answered "
                                  "401 authorization failed; fix INFLUX_TOKEN and run again")
    assert password not in repr(logs)
    sink.close()
    # the user fixes INFLUX_TOKEN and restarts: the probe passes, the spool replays first
    fixed = make_settings(auth_db.server.url, auth_db.name, tmp_state_dir,
                          token=f"{user}:rotated")
    with open_sink(fixed) as restarted:
        assert restarted.spool_points == 6
        result = restarted.write(_lines(7, 1))
        assert result.replayed == 6 and result.written == 1 and restarted.spool_points == 0
    values = [r["v"] for r in auth_db.server.query('SELECT v FROM "m"', db=auth_db.name)]
    assert values == [float(i) for i in range(8)]
