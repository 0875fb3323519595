"""InfluxSink against a real influxd: types, idempotency, outage + replay, dead letters."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from collector.config import Settings
from collector.sink import InfluxSink, LineProtocolPrinter, open_sink
from collector.transform import (
    energy_history_frame,
    live_status_frames,
    site_info_frame,
    to_line_protocol,
)
from tests.support import InfluxServer, load_payload, make_settings

COLLECTED = datetime(2024, 9, 18, 0, 0, 5, tzinfo=UTC)


@pytest.fixture
def sink(influx_settings: Settings):
    with InfluxSink(influx_settings, sleep=lambda _s: None) as opened:
        yield opened


def _frames() -> list:
    live = live_status_frames(load_payload("live_status_wall_connectors"), 42, "Home")
    return [*live, site_info_frame(load_payload("site_info"), 42, None, COLLECTED),
            energy_history_frame(load_payload("energy_history_sparse"), 42)]


def _count(server: InfluxServer, db: str, measurement: str, field: str) -> int:
    rows = server.query(f'SELECT count("{field}") FROM "{measurement}"', db=db)
    return rows[0]["count"] if rows else 0


def test_frames_land_with_schema_types(sink: InfluxSink, influxd: InfluxServer,
                                       influx_db: str) -> None:
    result = sink.write(_frames())
    assert result.complete and result.written == 1 + 2 + 1 + 3
    assert sink.points_written == 7 and sink.spool_points == 0
    live = influxd.field_types(influx_db, "live_status")
    assert live["solar_power"] == "float" and live["battery_charge_power"] == "float"
    assert live["grid_status"] == "string" and live["storm_mode_active"] == "boolean"
    assert influxd.field_types(influx_db, "wall_connector")["wall_connector_state"] == "integer"
    info = influxd.field_types(influx_db, "site_info")
    assert info["battery_count"] == "integer" and info["nameplate_power"] == "float"
    assert info["storm_mode_enabled"] == "boolean"  # (a field the payload lacks: not written)
    energy = influxd.field_types(influx_db, "energy_history")
    assert set(energy.values()) == {"float"} and "total_battery_charge" in energy
    rows = influxd.query('SELECT * FROM "live_status"', db=influx_db)
    assert rows[0]["time"] == 1726613232 and rows[0]["grid_export_power"] == 3202.85
    assert rows[0]["site_id"] == "42" and rows[0]["site_name"] == "Home"
    assert rows[0]["energy_left"] == 9123.4


def test_rewrite_is_idempotent(sink: InfluxSink, influxd: InfluxServer, influx_db: str) -> None:
    sink.write(_frames())
    sink.write(_frames())
    assert _count(influxd, influx_db, "energy_history", "total_home_usage") == 3
    assert _count(influxd, influx_db, "wall_connector", "wall_connector_power") == 2


def test_escaped_tags_and_strings_round_trip(sink: InfluxSink, influxd: InfluxServer,
                                              influx_db: str) -> None:
    # A backslash before a letter is kept; before a space it is dropped (see lineprotocol).
    live, _ = live_status_frames(load_payload("live_status_pypowerwall"), 1,
                                 'Home, "Sweet"=Home \\1 \\ 2')
    live.data["grid_status"] = 'say "hi" \\o/'
    assert sink.write(live).complete
    (row,) = influxd.query('SELECT grid_status, site_name FROM "live_status"', db=influx_db)
    assert row["site_name"] == 'Home, "Sweet"=Home \\1  2'
    assert row["grid_status"] == 'say "hi" \\o/'


def test_query_influxql_reads_coverage(sink: InfluxSink) -> None:
    sink.write(_frames())
    rows = sink.query_influxql(
        'SELECT count("total_home_usage") FROM "energy_history" GROUP BY "site_id"')
    assert rows == [{"site_id": "42", "time": 0, "count": 3}]
    assert sink.query_influxql('SELECT * FROM "nothing_here"') == []


def test_invalid_line_goes_to_dead_letters_good_lines_land(
        sink: InfluxSink, influxd: InfluxServer, influx_db: str) -> None:
    good = [f"m,site_id=1 v={i}.0 {1700000000 + i}" for i in range(9)]
    lines = [*good[:4], "m,site_id=1 v=5i 1700000100", "this is not line protocol", *good[4:]]
    sink.write(["m,site_id=1 v=0.5 1699999999"])  # v is a float field from now on
    with capture_logs() as logs:
        result = sink.write(lines)
    assert result.written == 9 and result.dead_lettered == 2 and result.spooled == 0
    assert _count(influxd, influx_db, "m", "v") == 10
    assert sink.dead_letters == 2
    text = sink.dead_letter_path.read_text()
    assert "m,site_id=1 v=5i 1700000100\n" in text and "this is not line protocol\n" in text
    assert "conflict" in text  # InfluxDB's reason is kept
    assert sum(e["event"] == "influxdb_rejected_point" for e in logs) == 2


def _settings(server: InfluxServer, db: str, state_dir: Path, **kwargs) -> Settings:
    return make_settings(server.url, db, state_dir, token="writer:s3cret-canary-pass", **kwargs)


def _live_lines(start: int, count: int) -> list[str]:
    return [f"live_status,site_id=1 solar_power={i}.0 {1700000000 + 10 * i}"
            for i in range(start, start + count)]


def test_outage_spools_then_replays_every_point_once_in_order(
        private_influxd: InfluxServer, tmp_state_dir: Path) -> None:
    db = private_influxd.create_database("outage")
    sink = InfluxSink(_settings(private_influxd, db, tmp_state_dir), sleep=lambda _s: None)
    assert sink.write(_live_lines(0, 5)).written == 5
    private_influxd.stop()
    with capture_logs() as logs:
        results = [sink.write(_live_lines(5 + 5 * k, 5)) for k in range(3)]
        assert [r.spooled for r in results] == [5, 5, 5] and sink.spool_points == 15
        assert sink.spooling and sink.health()["influxdb"] == "down"
        private_influxd.start()
        result = sink.write(_live_lines(20, 5))
    assert result.replayed == 15 and result.written == 5 and sink.spool_points == 0
    events = [e["event"] for e in logs]
    assert events.count("influxdb_unavailable_spooling") == 1
    assert events.count("influxdb_recovered") == 1
    assert "s3cret-canary-pass" not in repr(logs)
    rows = private_influxd.query('SELECT solar_power FROM "live_status"', db=db)
    assert [r["solar_power"] for r in rows] == [float(i) for i in range(25)]
    sink.close()


def test_spool_order_is_preserved_for_replay(private_influxd: InfluxServer,
                                             tmp_state_dir: Path) -> None:
    db = private_influxd.create_database("order")
    sink = InfluxSink(_settings(private_influxd, db, tmp_state_dir), sleep=lambda _s: None)
    private_influxd.stop()
    for k in range(4):
        sink.write(_live_lines(3 * k, 3))
    assert sink.spool.read(100) == _live_lines(0, 12)  # exactly the order written
    sink.close()


def test_restart_replays_what_is_left(private_influxd: InfluxServer,
                                      tmp_state_dir: Path) -> None:
    db = private_influxd.create_database("restart")
    settings = _settings(private_influxd, db, tmp_state_dir)
    private_influxd.stop()
    first = InfluxSink(settings, sleep=lambda _s: None)
    assert first.write(_live_lines(0, 30)).spooled == 30
    first.close()  # the daemon stops (or is killed) with points in the spool
    private_influxd.start()
    second = InfluxSink(settings, sleep=lambda _s: None)
    assert second.spool_points == 30
    assert second.replay().replayed == 30 and second.spool_points == 0
    assert _count(private_influxd, db, "live_status", "solar_power") == 30
    second.close()


def test_transient_answer_is_retried_then_spooled_and_replayed(
        private_influxd: InfluxServer, tmp_state_dir: Path) -> None:
    """A proxy answering 503 for a dead server: retried with backoff, then kept."""
    db = private_influxd.create_database("flaky")
    settings = make_settings(private_influxd.gateway_url, db, tmp_state_dir)
    sleeps: list[float] = []
    with InfluxSink(settings, sleep=sleeps.append, max_attempts=3) as sink:
        assert sink.write(_live_lines(0, 1)).written == 1 and sink.target.api == "v2"
        private_influxd.stop(gateway=False)
        result = sink.write(_live_lines(1, 2))
        assert result.spooled == 2 and sink.dead_letters == 0 and sink.state == "down"
        assert sleeps == [0.5, 1.0]
        sink.write(_live_lines(3, 1))
        assert sleeps == [0.5, 1.0]  # known down: one attempt, no backoff
        private_influxd.start()
        result = sink.write(_live_lines(4, 1))
        assert result.replayed == 3 and result.written == 1 and sink.state == "up"
    assert _count(private_influxd, db, "live_status", "solar_power") == 5


def test_missing_database_mid_run_is_a_refusal_kept_in_the_spool(
        influxd: InfluxServer, tmp_state_dir: Path) -> None:
    settings = make_settings(influxd.url, "dropped_db", tmp_state_dir)
    influxd.create_database("dropped_db")
    sleeps: list[float] = []
    sink = InfluxSink(settings, sleep=sleeps.append, max_attempts=3)
    try:
        assert sink.check_target() and sink.write(_live_lines(0, 1)).written == 1
        influxd.drop_database("dropped_db")  # someone drops it while we run
        with capture_logs() as logs:
            results = [sink.write(_live_lines(1 + k, 1)) for k in range(3)]
        assert [r.spooled for r in results] == [1, 1, 1] and sleeps == []  # no retries
        assert sink.state == "refused" and sink.spool_points == 3
        assert [e["event"] for e in logs].count("influxdb_refused_writes") == 1
        assert sink.undelivered() == (
            '3 points kept in the spool, not written: InfluxDB answered 404 database not '
            'found: "dropped_db"; fix INFLUX_BUCKET and run again')
        health = sink.health()
        assert health["influxdb"] == "refused" and "CREATE DATABASE" in health["fix"]
        influxd.create_database("dropped_db")
        result = sink.write(_live_lines(4, 1))
        assert result.replayed == 3 and result.written == 1 and sink.undelivered() == ""
        assert _count(influxd, "dropped_db", "live_status", "solar_power") == 4  # 0 was dropped
    finally:
        sink.close()
        influxd.drop_database("dropped_db")


def test_spool_cap_from_settings_warns(private_influxd: InfluxServer,
                                       tmp_state_dir: Path) -> None:
    db = private_influxd.create_database("cap")
    settings = _settings(private_influxd, db, tmp_state_dir, spool_max_mb=0.01)
    private_influxd.stop()
    with InfluxSink(settings, sleep=lambda _s: None) as sink, capture_logs() as logs:
        for k in range(40):
            sink.write(_live_lines(50 * k, 50))
    assert sum(e["event"] == "spool_full_dropping_oldest" for e in logs) == 1
    assert 0 < sink.spool_points < 2000 and sink.spool.dropped_points > 0


def test_dry_run_printer_has_the_same_interface(influx_settings: Settings) -> None:
    stream = io.StringIO()
    printer = open_sink(influx_settings, dry_run=True, stream=stream)
    assert isinstance(printer, LineProtocolPrinter)
    frames = _frames()
    result = printer.write(frames)
    expected = [line for frame in frames for line in to_line_protocol(frame)]
    assert result.written == len(expected) and stream.getvalue().splitlines() == expected
    assert printer.spool_points == 0 and printer.query_influxql("SELECT 1") == []
    assert not (influx_settings.collector.state_dir / "spool").exists()


def test_second_process_on_same_state_dir_gets_a_private_spool_that_is_adopted(
        private_influxd: InfluxServer, tmp_state_dir: Path) -> None:
    """A backfill next to the running daemon: its points are neither refused nor stranded."""
    db = private_influxd.create_database("shared")
    settings = _settings(private_influxd, db, tmp_state_dir)
    daemon = InfluxSink(settings, sleep=lambda _s: None)
    private_influxd.stop()
    backfill = InfluxSink(settings, sleep=lambda _s: None)
    assert backfill.spool.directory.parent.name == "spool.d"
    assert backfill.write(_live_lines(0, 7)).spooled == 7
    backfill.close()  # exits while InfluxDB is still down: its spool is now an orphan
    assert daemon.write(_live_lines(7, 3)).spooled == 3
    private_influxd.start()
    result = daemon.write(_live_lines(10, 2))
    assert result.replayed == 10 and result.written == 2
    assert _count(private_influxd, db, "live_status", "solar_power") == 12
    assert not any((tmp_state_dir / "spool.d").iterdir())
    daemon.close()


def test_a_hung_server_costs_one_write_deadline_then_the_points_are_kept(
        private_influxd: InfluxServer, tmp_state_dir: Path) -> None:
    """SIGSTOP'd influxd: every retry gets only what is left of the deadline, then spool."""
    db = private_influxd.create_database("deadline")
    settings = make_settings(private_influxd.url, db, tmp_state_dir, timeout_seconds=0.5,
                             write_deadline_seconds=0.8)
    sink = InfluxSink(settings, sleep=lambda _s: None, max_attempts=5)
    timeouts: list[float] = []
    real = sink._transport.post_lines

    def spy(target, lines, timeout):
        timeouts.append(timeout)
        return real(target, lines, timeout)

    sink._transport.post_lines = spy  # type: ignore[method-assign]
    assert sink.check_target()
    timeouts.clear()
    private_influxd.pause()
    try:
        result = sink.write(_live_lines(0, 3))
    finally:
        private_influxd.resume()
    assert result.spooled == 3 and sink.state == "down"
    assert timeouts[0] == 0.5 and all(t < 0.5 for t in timeouts[1:])  # never past 0.8 s
    assert sum(timeouts) <= 0.8 + 1e-6 and len(timeouts) < 5
    assert sink.write(_live_lines(3, 1)).replayed == 3
    sink.close()
