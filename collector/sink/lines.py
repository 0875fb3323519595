"""What a sink accepts and returns: frames or line-protocol lines in, ``WriteResult`` out.

Shared by ``InfluxSink`` and ``LineProtocolPrinter`` so both have the same interface. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collector.transform import Frame, to_line_protocol


@dataclass
class WriteResult:
    """What happened to one ``write()``/``replay()`` call, in points."""

    written: int = 0  # points of this call accepted by InfluxDB
    replayed: int = 0  # spooled points accepted by InfluxDB during this call
    spooled: int = 0  # points of this call put in the spool
    dead_lettered: int = 0  # points rejected as invalid (moved to the dead-letter file)
    queued: int = 0  # points of this call handed to a background writer (not written yet)

    @property
    def complete(self) -> bool:
        """Everything given to this call reached InfluxDB (nothing spooled or rejected)."""
        return self.spooled == 0 and self.dead_lettered == 0 and self.queued == 0


def as_lines(data: Any) -> list[str]:
    """Line-protocol lines of a Frame, a line, or an iterable of frames and/or lines."""
    if isinstance(data, Frame):
        return to_line_protocol(data)
    if isinstance(data, str):
        return [data] if data.strip() else []
    lines: list[str] = []
    for item in data:
        if isinstance(item, Frame):
            lines.extend(to_line_protocol(item))
        elif isinstance(item, str):
            if item.strip():
                lines.append(item)
        else:
            lines.extend(as_lines(item))
    return lines

