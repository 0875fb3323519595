"""``--version``, ``--help`` and ``check-config`` start without importing the heavy libraries
(pandas, numpy, httpx, influxdb_client, apscheduler): only the module of the command being run
is imported. Structural (which modules are loaded), not timed; bench/bench_cli.py times it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("pandas", "numpy", "httpx", "influxdb_client", "apscheduler")
# Runs ``python -m collector ARGS`` in this process, then reports which heavy modules it loaded.
WRAPPER = """
import json, runpy, sys
sys.argv = ["collector", *sys.argv[1:]]
try:
    runpy.run_module("collector", run_name="__main__", alter_sys=True)
except SystemExit as stop:
    code = stop.code
heavy = [m for m in HEAVY_LIST if m in sys.modules]
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
""".replace("HEAVY_LIST", repr(HEAVY))


def _run(*args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESLA_", "COLLECTOR_"))}
    env["TESLA_ACCESS_TOKEN"] = "instant-cli-token"
    result = subprocess.run([sys.executable, "-c", WRAPPER, *args], capture_output=True,
                            text=True, timeout=60, env=env)
    return json.loads(result.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["check-config"],
                                  ["check-config", "--help"], ["no-such-command"]])
def test_light_paths_import_no_heavy_library(args):
    report = _run(*args)
    assert report["heavy"] == [], report
    assert report["code"] in (0, 2)


# The bad-usage path of every command that needs a heavy library to do its work.
BAD_USAGE = [["run", "--bogus"], ["demo", "--port", "99999"], ["backfill", "--start", "2024-13-01"],
             ["backfill", "--help"], ["set", "backup-reserve", "250"], ["tariff", "price"],
             ["status", "--bogus"], ["sites", "--bogus"], ["cost", "--bogus"], ["export"],
             ["battery", "--bogus"], ["outages", "--bogus"], ["budget", "--bogus"]]


@pytest.mark.parametrize("args", BAD_USAGE, ids=" ".join)
def test_bad_usage_is_answered_before_any_heavy_import(args):
    report = _run(*args)
    assert report["heavy"] == [], report
    assert report["code"] in (0, 2)


def test_a_heavy_command_still_loads_what_it_needs(tmp_path):
    tariffs = Path(__file__).resolve().parents[1] / "fixtures" / "tariffs"
    report = _run("tariff", "validate", str(sorted(tariffs.glob("*.json"))[0]))
    assert "pandas" in report["heavy"], report  # the wrapper really sees imports


def test_top_level_help_lists_every_command():
    from collector.cli import COMMANDS

    result = subprocess.run([sys.executable, "-m", "collector", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for name, (_module, summary) in COMMANDS.items():
        assert name in result.stdout and summary.split()[0] in result.stdout


def test_every_command_module_is_in_the_table():
    from collector.cli import COMMAND_MODULES

    folder = Path(__file__).resolve().parents[2] / "collector" / "commands"
    modules = {p.stem for p in folder.glob("*.py") if "def register(" in p.read_text()}
    assert modules == set(COMMAND_MODULES)


@pytest.mark.parametrize("command", ["battery", "outages"])
def test_commands_sharing_a_module_parse(command):
    report = _run(command, "--help")
    assert report["code"] == 0
