"""A full disk never corrupts the spool (issue 11 case 6), on a real tiny file system.

The scenario (``tests/support/fulldisk.py``) runs in a subprocess on a 1 MB tmpfs mounted in a
private mount namespace (``unshare -rm``), so nothing leaks to the machine and the mount goes
away with the process. Where the machine does not allow that, the same scenario runs under
RLIMIT_FSIZE (appends past the limit fail part-way with EFBIG); the report says which ran.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import InfluxServer

REPO = Path(__file__).resolve().parents[2]


def _can_mount_tmpfs(directory: Path) -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs '{directory}'"],
        capture_output=True, timeout=30)
    return probe.returncode == 0


def _scenario(directory: Path, url: str, db: str) -> subprocess.Popen:
    script = [sys.executable, "-m", "tests.support.fulldisk", str(directory), url, db]
    if _can_mount_tmpfs(directory):
        mount = f"mount -t tmpfs -o size=1m tmpfs '{directory}' && exec \"$@\""
        command = ["unshare", "-rm", "sh", "-c", mount, "sh", *script]
    else:
        command = [*script, "--fsize-limit", str(64 * 1024)]
    return subprocess.Popen(command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _report(process: subprocess.Popen) -> dict:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("{"):
            return json.loads(line)
    process.wait(10)
    raise AssertionError(f"scenario ended without a report: {process.stderr.read()[-2000:]}")


@pytest.mark.integration
def test_full_disk_keeps_whole_records_exact_counts_and_replays_without_restart(
        private_influxd: InfluxServer, tmp_path: Path) -> None:
    db = private_influxd.create_database("fulldisk")
    private_influxd.stop()
    directory = tmp_path / "tiny"
    directory.mkdir()
    process = _scenario(directory, private_influxd.url, db)
    try:
        spooled = _report(process)
        print(f"full-disk mechanism: {spooled['mechanism']}")
        assert spooled["full_failures"] == 3
        assert spooled["failure"][0].startswith("cannot keep 40 points: no space left for the "
                                                "spool in ")
        assert spooled["whole_lines"] and spooled["on_disk_is_kept"]
        assert spooled["counted"] == spooled["kept"] > 0  # counts are what is on disk
        assert spooled["disk_full_logs"] == 1  # said once
        assert spooled["resumed_kept"] == spooled["kept"] + 3 * 40  # appends resume by themselves
        assert spooled["resumed_counted"] == spooled["resumed_kept"]
        assert spooled["resumed_on_disk_is_kept"] and spooled["space_back_logs"] == 1
        private_influxd.start()
        process.stdin.write("go\n")
        process.stdin.flush()
        replayed = _report(process)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert replayed["replayed"] == spooled["resumed_kept"] and replayed["written"] == 40
    assert replayed["dead_lettered"] == 0 and replayed["left"] == 0
    rows = private_influxd.query('SELECT count("solar_power") FROM "live_status"', db=db)
    assert rows[0]["count"] == spooled["resumed_kept"] + 40
