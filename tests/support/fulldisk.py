"""A full-disk scenario for the spool, run in its own process (test support only).

``python -m tests.support.fulldisk DIR URL DATABASE [--fsize-limit BYTES]`` spools into
``DIR/state`` through a real ``InfluxSink`` while InfluxDB (``URL``, stopped by the caller) is
down, until the disk is full: ``DIR`` is a tiny tmpfs (the caller mounts it in a private mount
namespace) of which a filler file leaves a few KB; with ``--fsize-limit`` the process instead
runs under RLIMIT_FSIZE (appends beyond the limit fail with EFBIG, the same partial-write
failure). It then checks the files (whole lines only, counts equal to what is on disk, the exact
lines in order), frees the space (deletes the filler / lifts the limit), appends again, prints
one JSON line and waits for a line on stdin: the caller starts InfluxDB, and one more write must
replay every spooled line, with nothing dead-lettered. The final JSON line reports it all.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import sys
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from collector.errors import SpoolFull
from collector.sink import InfluxSink
from tests.support.settings import make_settings

BATCH = 40
HEADROOM = 48 * 1024


def _batch(start: int) -> list[str]:
    return [f"live_status,site_id=1 solar_power={i}.0,load_power={i}.5 {1700000000 + 10 * i}"
            for i in range(start, start + BATCH)]


def _fill(directory: Path) -> Path:
    """A filler file that leaves ``HEADROOM`` bytes free on the file system of ``directory``."""
    stats = os.statvfs(directory)
    filler = directory / "filler"
    with filler.open("wb") as handle:
        handle.write(b"\0" * max(0, stats.f_bavail * stats.f_frsize - HEADROOM))
    return filler


def _on_disk(spool_dir: Path) -> tuple[list[str], bool]:
    """The spooled lines in order, and whether every segment holds whole lines only."""
    lines: list[str] = []
    whole = True
    for segment in sorted(spool_dir.glob("*.lp")):
        data = segment.read_bytes()
        whole = whole and (not data or data.endswith(b"\n"))
        lines.extend(data.decode().splitlines())
    return lines, whole


def _spool_until_full(sink: InfluxSink) -> tuple[list[str], list[str], int]:
    kept: list[str] = []
    failures: list[str] = []
    start = 0
    while len(failures) < 3 and start < 100_000:
        batch = _batch(start)
        start += BATCH
        try:
            kept.extend(batch if sink.write(batch).spooled == BATCH else [])
        except SpoolFull as exc:
            failures.append(str(exc))
    return kept, failures, start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", type=Path)
    parser.add_argument("url")
    parser.add_argument("database")
    parser.add_argument("--fsize-limit", type=int, default=0)
    args = parser.parse_args()
    state = args.directory / "state"
    state.mkdir(parents=True, exist_ok=True)
    settings = make_settings(args.url, args.database, state, spool_max_mb=100,
                             timeout_seconds=2.0)
    sink = InfluxSink(settings, sleep=lambda _s: None, max_attempts=1)
    if args.fsize_limit:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (args.fsize_limit, resource.RLIM_INFINITY))
        filler = None
    else:
        filler = _fill(args.directory)
    report: dict[str, Any] = {"mechanism": "rlimit_fsize" if args.fsize_limit else "tmpfs"}
    with capture_logs() as logs:
        kept, failures, start = _spool_until_full(sink)
        on_disk, whole = _on_disk(sink.spool.directory)
        report.update(full_failures=len(failures), failure=failures[:1], whole_lines=whole,
                      kept=len(kept), on_disk_is_kept=on_disk == kept,
                      counted=sink.spool_points, disk_full_logs=_events(logs, "spool_disk_full"))
        if filler is not None:
            filler.unlink()
        else:
            resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
        for _ in range(3):
            batch = _batch(start)
            start += BATCH
            kept.extend(batch if sink.write(batch).spooled == BATCH else [])
        report.update(resumed_kept=len(kept), resumed_counted=sink.spool_points,
                      resumed_on_disk_is_kept=_on_disk(sink.spool.directory)[0] == kept,
                      space_back_logs=_events(logs, "spool_disk_space_back"))
    print(json.dumps({"phase": "spooled", **report}), flush=True)
    sys.stdin.readline()  # the caller starts InfluxDB
    result = sink.write(_batch(start))
    report.update(replayed=result.replayed, written=result.written,
                  dead_lettered=sink.dead_letters, left=sink.spool_points)
    sink.close()
    print(json.dumps({"phase": "replayed", **report}), flush=True)
    return 0


def _events(logs: list[dict[str, Any]], name: str) -> int:
    return sum(1 for entry in logs if entry.get("event") == name)


if __name__ == "__main__":
    sys.exit(main())
