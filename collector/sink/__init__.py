"""Sink stage: InfluxDB writes with retry, a durable spool, replay and dead letters.

The only package that imports ``influxdb_client`` (in ``transport``). ``InfluxSink`` writes;
``LineProtocolPrinter`` is the dry-run twin with the same interface; ``open_sink`` picks one
and probes the target once; ``BackgroundWriter`` takes the daemon's writes off its polling
threads. Must not call the Fleet API or transform JSON: it takes frames or line protocol.
"""

from __future__ import annotations

from typing import TextIO

from collector.config import Settings
from collector.sink.background import BackgroundWriter
from collector.sink.deadletter import DEAD_LETTER_FILE, DeadLetters
from collector.sink.influx import InfluxSink
from collector.sink.lines import WriteResult, as_lines
from collector.sink.printer import LineProtocolPrinter
from collector.sink.spool import Spool


def open_sink(settings: Settings, dry_run: bool = False, stream: TextIO | None = None,
              probe: bool = True) -> InfluxSink | LineProtocolPrinter:
    """The sink for a command: a printer for ``--dry-run``, else an ``InfluxSink`` whose
    target was probed with an empty write: a refusal raises ``InfluxRefused`` (exit 2), an
    unreachable server is reported once and the sink spools until it answers. A command that
    only reads (a read-only token may not write) passes ``probe=False``."""
    if dry_run:
        return LineProtocolPrinter(stream)
    sink = InfluxSink(settings)
    if not probe:
        return sink
    try:
        sink.check_target()
    except BaseException:
        sink.close()
        raise
    return sink


__all__ = [
    "DEAD_LETTER_FILE",
    "BackgroundWriter",
    "DeadLetters",
    "InfluxSink",
    "LineProtocolPrinter",
    "Spool",
    "WriteResult",
    "as_lines",
    "open_sink",
]
