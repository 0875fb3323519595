"""``scripts/demo`` end to end, headless: it starts its own influxd under the state dir, runs the
collector against the simulator with the live view, stops everything after ``--seconds``, and
the data it wrote is there when that influxd's data dir is started again."""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from collector.localdb import free_port
from tests.support import InfluxServer

ROOT = Path(__file__).resolve().parents[2]
FLOW_LINE = re.compile(r"^\d\d:\d\d:\d\d  Sim Home 1  solar +-?\d+ W  battery +-?\d+ W  "
                       r"home +-?\d+ W  grid +-?\d+ W  SoC +[\d.]+ %  grid \w+$", re.MULTILINE)


def _run_demo(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TESLA_", "INFLUX_", "COLLECTOR_"))}
    return subprocess.run([str(ROOT / "scripts" / "demo"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _count(server: InfluxServer, measurement: str) -> int:
    rows = server.query(f"SELECT count(*) FROM {measurement}", db="tesla_energy")
    return max((v for r in rows for k, v in r.items() if k.startswith("count_")), default=0)


def test_demo_runs_headless_and_its_data_stays(tmp_path):
    state = tmp_path / "demo"
    result = _run_demo("--seconds", "15", "--state-dir", str(state))
    assert result.returncode == 0, result.stderr[-2000:]
    assert FLOW_LINE.search(result.stdout), result.stdout
    assert "Stopped. The data stays in" in result.stdout
    assert "influxdb.conf" in result.stdout
    # everything it started is gone: the private influxd no longer answers on its port
    port = re.search(r"InfluxDB \S+ at http://127.0.0.1:(\d+)", result.stdout).group(1)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(port)), timeout=5).close()
    server = InfluxServer(root=state / "influxdb").start()
    try:
        assert _count(server, "live_status") >= 2
        assert _count(server, "energy_history") > 0
    finally:
        server.close()
    assert (state / "influxdb" / "data" / "tesla_energy").is_dir()


def test_demo_port_in_use_is_one_line_and_exit_2(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", free_port()))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run_demo("--port", str(port), "--state-dir", str(tmp_path / "d"), timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"demo: error: port {port} on 127.0.0.1 is already in use: pick another with --port, "
        "or leave it out for a free one")


def test_demo_bad_option_values_exit_2(tmp_path):
    result = _run_demo("--port", "70000", "--state-dir", str(tmp_path / "d"), timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "demo: error: port '70000' is out of range: use a number from 1 to 65535")
    result = _run_demo("--seconds", "soon")
    assert (result.returncode, result.stderr.strip()) == (
        2, "scripts/demo: --seconds soon is not a whole number of seconds > 0")
