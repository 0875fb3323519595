"""``tesla-energy export`` end to end against the real influxd: CSV and Parquet contents
(types, UTC times, tags as columns), site and range selection, chunked reading, and every bad
input's one line and exit code. The Fleet API is never contacted (its URL is a closed port)."""

from __future__ import annotations

import csv
import io
import sys
from datetime import UTC, datetime

import pytest

from collector.cli import main
from collector.sink import open_sink
from collector.sink.reader import MeasurementReader
from tests.support.settings import set_cli_env

T0 = int(datetime(2024, 3, 9, 23, 50, tzinfo=UTC).timestamp())  # spans 3 UTC days
STEP = 300


def history_lines(site: str, count: int, start: int = T0) -> list[str]:
    return [f"energy_history,site_id={site} solar_energy_exported={i * 1.5},"
            f"grid_energy_imported={100 - i}.25 {start + i * STEP}" for i in range(count)]


LIVE = [
    'live_status,site_id=1,site_name=Home\\ one solar_power=1200.5,grid_status="Active",'
    f'storm_mode_active=false,battery_count=2i {T0}',
    'live_status,site_id=1,site_name=Home\\ one solar_power=0,grid_status="Islanded, off",'
    f'storm_mode_active=true {T0 + 30}',
]


@pytest.fixture
def seeded(influxd, influx_db, tmp_state_dir, monkeypatch):
    influxd.write_lines(influx_db, history_lines("1", 600) + history_lines("2", 10) + LIVE)
    set_cli_env(monkeypatch, "http://127.0.0.1:9", influxd.url, influx_db, tmp_state_dir)
    monkeypatch.setenv("COLLECTOR_LOG_LEVEL", "warning")
    return influx_db


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def read_csv(path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_csv_has_every_point_of_the_site_with_utc_times_and_tag_columns(seeded, tmp_path,
                                                                        capsys):
    out = tmp_path / "h.csv"
    code, _, err = run_cli(capsys, "export", "--measurement", "energy_history", "--site", "1",
                           "--format", "csv", "--output", str(out))
    assert code == 0, err
    assert "exported 600 energy_history points of site 1" in err
    rows = read_csv(out)
    assert list(rows[0]) == ["time", "site_id", "grid_energy_imported", "solar_energy_exported"]
    assert len(rows) == 600 and {r["site_id"] for r in rows} == {"1"}
    assert rows[0]["time"] == "2024-03-09T23:50:00+00:00"
    assert rows[599]["time"] == datetime.fromtimestamp(T0 + 599 * STEP, UTC).isoformat()
    assert [float(r["solar_energy_exported"]) for r in rows] == [i * 1.5 for i in range(600)]
    assert float(rows[7]["grid_energy_imported"]) == 93.25
    assert not (tmp_path / "h.csv.part").exists()


def test_range_is_utc_days_with_an_inclusive_end(seeded, tmp_path, capsys):
    out = tmp_path / "day.csv"
    code, _, err = run_cli(capsys, "export", "--measurement", "energy_history", "--site", "1",
                           "--start", "2024-03-10", "--end", "2024-03-10", "--format", "csv",
                           "--output", str(out))
    assert code == 0, err
    times = [r["time"] for r in read_csv(out)]
    assert len(times) == 288  # one UTC day of 5-minute buckets
    assert times[0] == "2024-03-10T00:00:00+00:00" and times[-1] == "2024-03-10T23:55:00+00:00"


def test_all_sites_without_site(seeded, tmp_path, capsys):
    out = tmp_path / "all.csv"
    assert run_cli(capsys, "export", "--measurement", "energy_history", "--format", "csv",
                   "--output", str(out))[0] == 0
    rows = read_csv(out)
    assert len(rows) == 610 and {r["site_id"] for r in rows} == {"1", "2"}
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)


def test_strings_booleans_integers_and_missing_fields_keep_their_types(seeded, tmp_path,
                                                                      capsys):
    out = tmp_path / "live.csv"
    assert run_cli(capsys, "export", "--measurement", "live_status", "--format", "csv",
                   "--output", str(out))[0] == 0
    rows = read_csv(out)
    assert rows[0]["site_name"] == "Home one" and rows[1]["grid_status"] == "Islanded, off"
    assert [r["storm_mode_active"] for r in rows] == ["false", "true"]
    assert [r["battery_count"] for r in rows] == ["2", ""]  # absent stays empty, never 0


def test_parquet_round_trips_with_a_typed_schema(seeded, tmp_path, capsys):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "live.parquet"
    code, _, err = run_cli(capsys, "export", "--measurement", "live_status", "--format",
                           "parquet", "--output", str(out))
    assert code == 0, err
    table = pq.read_table(out)
    types = {f.name: str(f.type) for f in table.schema}
    assert types == {"time": "timestamp[ns, tz=UTC]", "site_id": "string",
                     "site_name": "string", "battery_count": "int64", "grid_status": "string",
                     "solar_power": "double", "storm_mode_active": "bool"}
    data = table.to_pydict()
    assert data["battery_count"] == [2, None] and data["storm_mode_active"] == [False, True]
    assert data["time"][1] == datetime.fromtimestamp(T0 + 30, UTC)


def test_parquet_of_many_chunks_equals_the_stored_points(seeded, influx_settings, tmp_path,
                                                         influxd):
    pq = pytest.importorskip("pyarrow.parquet")
    from collector.commands.export import export

    settings = type(influx_settings)(influx=type(influx_settings.influx)(
        **{**influx_settings.influx.__dict__, "bucket": f"{seeded}/autogen"}),
        collector=influx_settings.collector)
    sink = open_sink(settings, probe=False)
    try:
        reader = MeasurementReader(sink, "energy_history", "1", target_rows=50)
        chunks = [len(rows) for _, rows in reader.chunks(T0 * 10**9, (T0 + 600 * STEP) * 10**9)]
        assert len(chunks) > 5 and max(chunks) <= 300  # windows shrink toward 50 rows
        rows = export(reader, reader.bounds(None, None), str(tmp_path / "p.parquet"), "parquet")
    finally:
        sink.close()
    assert rows == 600
    table = pq.read_table(tmp_path / "p.parquet").to_pydict()
    assert table["solar_energy_exported"] == [i * 1.5 for i in range(600)]


@pytest.mark.parametrize(("argv", "message"), [
    (["--measurement", "nope", "--format", "csv"], "measurement 'nope' is not in InfluxDB"),
    (["--measurement", "energy_history", "--site", "99", "--format", "csv"],
     "site 99 has no energy_history points (sites stored: 1, 2)"),
    (["--measurement", "energy_history", "--format", "xml"], "invalid choice: 'xml'"),
    (["--measurement", "energy_history", "--format", "csv", "--start", "2024-03-10",
      "--end", "2024-03-01"], "--start 2024-03-10 is after --end 2024-03-01"),
    (["--measurement", "energy_history", "--format", "csv", "--start", "2024-02-30"],
     "is not a date"),
    (["--measurement", "energy_history", "--format", "parquet", "--output", "-"],
     "stdout) works only with --format csv"),
])
def test_bad_input_is_one_line_and_exit_2(seeded, argv, message, capsys, tmp_path,
                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(main(["export", *argv]))
    err = capsys.readouterr().err.strip()
    assert exited.value.code == 2 and message in err and len(err.splitlines()) == 1
    assert not list(tmp_path.glob("*.*"))


def test_an_empty_range_says_so_exits_1_and_writes_no_file(seeded, tmp_path, capsys):
    out = tmp_path / "none.csv"
    code, _, err = run_cli(capsys, "export", "--measurement", "energy_history", "--start",
                           "2025-01-01", "--format", "csv", "--output", str(out))
    assert code == 1 and "nothing written" in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*.*"))


def test_parquet_without_pyarrow_is_one_line_and_exit_2(seeded, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyarrow" else real(name, *a))
    code, _, err = run_cli(capsys, "export", "--measurement", "energy_history", "--format",
                           "parquet")
    assert code == 2 and "pip install 'tesla-energy-collector[parquet]'" in err


def test_csv_to_stdout_and_a_progress_line_on_a_terminal(seeded, capsys, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Tty()
    monkeypatch.setattr(sys, "stderr", terminal)
    code = main(["export", "--measurement", "energy_history", "--site", "2", "--format", "csv",
                 "--output", "-"])
    out = capsys.readouterr().out
    assert code == 0 and len(out.strip().splitlines()) == 11
    assert "\rexport energy_history: 100.0%  10 rows" in terminal.getvalue()
