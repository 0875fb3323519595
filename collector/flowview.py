"""The demo's live power-flow view: the newest ``live_status`` point of each site, read back
from InfluxDB (so what it shows is what was stored), one line per site.

On a terminal the lines are redrawn in place; otherwise each new point is printed as a new
line (logs, pipes, tests). Reads only: it never writes and never calls the Fleet API.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, TextIO

from collector.errors import CollectorError

LATEST_QUERY = ("SELECT solar_power, battery_power, load_power, grid_power, "
                "percentage_charged, grid_status FROM live_status "
                "GROUP BY site_id, site_name ORDER BY time DESC LIMIT 1")


def _watts(value: Any) -> str:
    return f"{value:7.0f} W" if isinstance(value, int | float) else "      - W"


def format_flow(row: dict[str, Any]) -> str:
    """One line for one site's newest point (pure): time, solar, battery (+ discharging),
    home, grid (+ importing), state of charge and grid status."""
    stamp = row.get("time")
    when = (datetime.fromtimestamp(stamp).strftime("%H:%M:%S")
            if isinstance(stamp, int | float) else "--:--:--")
    soc = row.get("percentage_charged")
    soc_text = f"{soc:5.1f} %" if isinstance(soc, int | float) else "    - %"
    name = row.get("site_name") or row.get("site_id") or "site"
    return (f"{when}  {name}  solar {_watts(row.get('solar_power'))}  "
            f"battery {_watts(row.get('battery_power'))}  home {_watts(row.get('load_power'))}  "
            f"grid {_watts(row.get('grid_power'))}  SoC {soc_text}  "
            f"grid {row.get('grid_status') or '-'}")


class FlowView:
    """Polls ``sink.query_influxql`` every ``interval`` seconds in a thread and prints each
    site's line when its newest point changes."""

    def __init__(self, sink: Any, out: TextIO, interval: float = 1.0) -> None:
        self._sink = sink
        self._out = out
        self._interval = interval
        self._tty = bool(getattr(out, "isatty", lambda: False)())
        self._shown: dict[str, Any] = {}
        self._drawn = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="flow-view", daemon=True)

    def start(self) -> FlowView:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                rows = self._sink.query_influxql(LATEST_QUERY)
            except CollectorError:
                continue  # InfluxDB not there yet: the daemon's log says so
            self.show(rows)

    def show(self, rows: list[dict[str, Any]]) -> None:
        """Print the rows whose newest point is new (all of them, redrawn, on a terminal)."""
        fresh = [r for r in rows if self._shown.get(str(r.get("site_id"))) != r.get("time")]
        if not fresh:
            return
        for row in fresh:
            self._shown[str(row.get("site_id"))] = row.get("time")
        if self._tty:
            if self._drawn:
                self._out.write(f"\033[{self._drawn}F")
            self._out.write("".join(f"\033[2K{format_flow(r)}\n" for r in rows))
            self._drawn = len(rows)
        else:
            self._out.write("".join(f"{format_flow(r)}\n" for r in fresh))
        self._out.flush()
