"""Settings changed outside this tool: the ``site_info.settings_changed_outside`` field.

At each site_info snapshot the daemon compares the watched settings (backup reserve and
operation mode) with the site's previous snapshot (remembered; at start, the last one stored
in InfluxDB). A setting that differs counts as changed *outside this tool* unless a
``control_event`` that set it to the new value (written by ``tesla-energy set``, possibly from
another machine) lies within ``window`` seconds before the snapshot. The count is written on
every snapshot (0 when nothing changed outside); the "Settings changed outside this tool"
alert fires on it.

Why in the collector and not in the alert query: InfluxQL cannot join site_info with
control_event, and a Grafana math expression across two queries has no data (so no verdict)
for sites without control events. When InfluxDB cannot answer, the field is left out (unknown,
not "changed"). No HTTP code here; reads go through the sink's ``query_influxql``.
"""

from __future__ import annotations

import threading
from typing import Any

from collector.control import show_value
from collector.errors import CollectorError
from collector.log import get_logger
from collector.sink.reader import quote_literal

log = get_logger(__name__)

WATCHED = ("backup_reserve_percent", "default_real_mode")
FIELD = "settings_changed_outside"
MIN_WINDOW = 900.0


def window_for(site_info_seconds: float) -> float:
    """How long before a snapshot a ``control_event`` explains a change: two snapshot
    intervals (the change is seen by the first snapshot after it), at least 15 minutes."""
    return max(MIN_WINDOW, 2 * site_info_seconds)


class SettingsWatch:
    """Per site: the previous watched values, and the verdict for each new snapshot."""

    def __init__(self, sink: Any, window: float) -> None:
        self.sink = sink
        self.window = window
        self._last: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _query(self, text: str) -> list[dict[str, Any]]:
        query = getattr(self.sink, "query_influxql", None)
        if query is None:  # --dry-run prints, it cannot read
            raise CollectorError("this sink cannot read InfluxDB")
        return query(text)

    def _stored(self, site: str) -> dict[str, Any]:
        selects = ", ".join(f'last("{name}") AS "{name}"' for name in WATCHED)
        rows = self._query(f'SELECT {selects} FROM "site_info" WHERE "site_id" = '
                           f"{quote_literal(site)}")
        return {k: v for k, v in (rows[0] if rows else {}).items()
                if k in WATCHED and v is not None}

    def _explained(self, site: str, setting: str, value: Any, at: float) -> bool:
        """A control_event that set ``setting`` to ``value`` within the window."""
        rows = self._query(
            f'SELECT "value" FROM "control_event" WHERE "site_id" = '
            f"{quote_literal(site)} AND \"setting\" = {quote_literal(setting)} AND "
            f"time >= {int(at - self.window)}s AND time <= {int(at) + 1}s")
        return show_value(setting, value) in {row.get("value") for row in rows}

    def check(self, site_id: int | str, values: dict[str, Any], at: float) -> int | None:
        """How many watched settings in ``values`` changed outside this tool since the
        previous snapshot; None when InfluxDB could not tell (the field is then left out)."""
        site = str(site_id)
        current = {k: values[k] for k in WATCHED if values.get(k) is not None}
        try:
            with self._lock:
                previous = self._last.get(site)
            if previous is None:
                previous = self._stored(site)
            changed = [k for k in current if k in previous and previous[k] != current[k]]
            outside = [k for k in changed if not self._explained(site, k, current[k], at)]
        except CollectorError as exc:
            log.info("cannot compare settings with InfluxDB; not judged", site_id=site,
                     error=str(exc))
            return None
        with self._lock:
            self._last[site] = {**previous, **current}
        if outside:
            log.warning("settings changed outside this tool", site_id=site,
                        settings={k: f"{previous[k]} -> {current[k]}" for k in outside})
        return len(outside)
