"""LineProtocolPrinter: the ``--dry-run`` sink. Same interface as ``InfluxSink``, but prints
the line protocol to a stream (stdout) and writes nothing anywhere: no InfluxDB, no spool,
no dead letters.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from collector.sink.lines import WriteResult, as_lines


class LineProtocolPrinter:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self.points_written = 0
        self.spool_points = 0
        self.dead_letters = 0
        self.available: bool | None = True
        self.spooling = False
        self.failing = False
        self.state = "dry-run"

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stdout

    def write(self, data: Any) -> WriteResult:
        lines = as_lines(data)
        if lines:
            self.stream.write("".join(f"{line}\n" for line in lines))
            self.stream.flush()
        self.points_written += len(lines)
        return WriteResult(written=len(lines))

    def replay(self) -> WriteResult:
        return WriteResult()

    def ping(self) -> bool:
        return True

    def check_target(self) -> bool:
        return True

    def undelivered(self) -> str:
        return ""

    def ensure_delivered(self, refusals_only: bool = False) -> None:
        """A dry run keeps nothing back."""

    def health(self) -> dict[str, Any]:
        return {"influxdb": "dry-run", "points_written": self.points_written,
                "spool_points": 0, "dead_letters": 0}

    def query_influxql(self, query: str, epoch: str = "s",
                       database: str | None = None) -> list[dict[str, Any]]:
        """A dry run has no stored data: every coverage query comes back empty."""
        return []

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> LineProtocolPrinter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
