"""Battery health and outage reports after an import (wiring; I/O through the sink).

``update`` reads back what a range of local days needs (energy buckets from ``WINDOW_DAYS``
before it, live samples, backup events), computes ``battery_health`` per day and the energy
and SoC of every backup event (``collector.site_health.compute``), and writes both (idempotent:
same measurement, tags and time). The backfill calls ``update_quietly`` after every run
(backfill, recent-history refresh, gap fill) for the days it imported, up to yesterday (a
day's health is written once its history is complete). Sites without a battery get nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from collector.cost import store
from collector.cost.service import day_span
from collector.errors import CollectorError
from collector.log import get_logger
from collector.site_health import compute
from collector.transform.fields import BACKUP_EVENT, BATTERY_HEALTH, ENERGY_HISTORY, LIVE_STATUS
from collector.transform.frame import Frame

log = get_logger(__name__)


def nameplate_of(info: Mapping[str, Any]) -> float | None:
    """The site's battery nameplate energy (Wh), None for a site without a battery."""
    value = info.get("nameplate_energy")
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    if info.get("battery_count") == 0:
        return None
    return float(value)


@dataclass(frozen=True)
class Updated:
    health: pd.DataFrame
    outages: pd.DataFrame
    events: pd.DataFrame


def _tagged(measurement: str, data: pd.DataFrame, site_id: int, tags: tuple[str, ...]) -> Frame:
    data = data.dropna(how="all").copy()
    data.insert(0, "site_id", str(site_id))
    return Frame(measurement, data, tags)


def read_live(sink: Any, site_id: int, start: int, end: int) -> pd.DataFrame:
    return store._select(sink, LIVE_STATUS.measurement, compute.LIVE_INPUTS, site_id,
                         start, end)


def read_events(sink: Any, site_id: int, start: int, end: int) -> pd.DataFrame:
    return store._select(sink, BACKUP_EVENT.measurement, ("duration_seconds",), site_id,
                         start, end, chunked=False)


def update(sink: Any, site_id: int, zone: str, nameplate: float, first: date,
           last: date) -> Updated:
    """Compute and write battery_health of local days first..last and the outage figures of
    the backup events starting in them."""
    lo, hi = day_span(first, last, zone)
    read_lo, _ = day_span(first - timedelta(days=compute.WINDOW_DAYS - 1), last, zone)
    _, read_hi = day_span(first, last + timedelta(days=1), zone)  # outages past midnight
    buckets = store._select(sink, ENERGY_HISTORY.measurement, compute.HISTORY_INPUTS,
                            site_id, read_lo, read_hi)
    live = read_live(sink, site_id, lo, read_hi)
    health = compute.health_frame(buckets, live, zone, nameplate,
                                  pd.Timestamp(lo, unit="s", tz="UTC"),
                                  pd.Timestamp(hi, unit="s", tz="UTC"))
    events = read_events(sink, site_id, lo, hi)
    outages = compute.outage_frame(events, buckets, live)
    frames = [_tagged(BATTERY_HEALTH.measurement, health, site_id, BATTERY_HEALTH.tags),
              _tagged(BACKUP_EVENT.measurement, outages, site_id, BACKUP_EVENT.tags)]
    sink.write([f for f in frames if len(f)])
    return Updated(health, outages, events)


def update_quietly(sink: Any, site: Any, first: date, last: date,
                   now: Any = None) -> Updated | None:
    """``update`` for a ``SiteContext`` after an import, days capped at its yesterday; a
    failure is logged, never fails the import."""
    nameplate = nameplate_of(site.info)
    last = min(last, (site.today(now) if now else site.today()) - timedelta(days=1))
    if nameplate is None or first > last:
        return None
    try:
        return update(sink, site.site_id, site.zone_name, nameplate, first, last)
    except CollectorError as exc:
        log.warning("battery health and outage figures not updated (run 'tesla-energy "
                    "battery' later)", site_id=site.site_id, error=str(exc))
        return None
