"""Dead-letter file for points InfluxDB rejected as invalid (HTTP 400/422).

``<state_dir>/dead-letter.lp``: each rejected batch is a ``# <UTC time> <reason>`` comment
line followed by the rejected lines, appended and fsync'd, so a user can inspect, fix and
re-import them (``influx write`` ignores ``#`` lines). Never retried automatically. No network.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from collector.errors import SinkError

DEAD_LETTER_FILE = "dead-letter.lp"


class DeadLetters:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / DEAD_LETTER_FILE
        self.count = 0

    def append(self, lines: list[str], reason: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        comment = " ".join(reason.split())  # one line, whatever the server sent
        payload = f"# {stamp} {comment}\n" + "".join(f"{line}\n" for line in lines)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise SinkError(f"cannot write dead-letter file {self.path}: {exc.strerror}") from None
        self.count += len(lines)
