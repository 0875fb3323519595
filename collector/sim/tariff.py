"""Time-of-use tariffs for the simulator: the default tariff, validation like the real service,
and the lookup of each 5-minute slot's period (peak / partial / off-peak).

Tariffs use Tesla's ``tariff_content_v2`` shape: ``seasons{name:{fromMonth, toMonth,
tou_periods{PERIOD:{periods:[{fromDayOfWeek, toDayOfWeek, fromHour, fromMinute, toHour,
toMinute}]}}}}`` with zero-valued fields omitted (default 0); days of week 0 = Monday; a period
whose end is not after its start runs past midnight (equal start and end = the whole day).
A season with neither months nor periods (``"Winter": {}``, as real tariffs carry) is unused.
``v1_shape`` gives the older ``tariff_content`` form some real sites still report.
Pure data functions: no HTTP, no model state.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from collector.sim.timegrid import STEP_SECONDS

CURRENCIES = frozenset({"USD", "EUR", "GBP"})
OFF_PEAK, PARTIAL_PEAK, ON_PEAK = 0, 1, 2
_PERIOD_CODES = {"OFF_PEAK": OFF_PEAK, "SUPER_OFF_PEAK": OFF_PEAK, "ON_PEAK": ON_PEAK,
                 "PARTIAL_PEAK": PARTIAL_PEAK}
_MINUTES_PER_WEEK = 7 * 1440
SLOTS_PER_DAY = 86400 // STEP_SECONDS


class TariffError(ValueError):
    """The tariff is not acceptable; the message says what is wrong."""


def _span(days: tuple[int, int], start_h: int, start_m: int, end_h: int, end_m: int) -> dict:
    span = {"fromDayOfWeek": days[0], "toDayOfWeek": days[1], "fromHour": start_h,
            "fromMinute": start_m, "toHour": end_h, "toMinute": end_m}
    return {k: v for k, v in span.items() if v}


_WEEK = (0, 6)
_DEFAULT_PERIODS = {
    "ON_PEAK": {"periods": [_span(_WEEK, 16, 0, 21, 0)]},
    "PARTIAL_PEAK": {"periods": [_span(_WEEK, 15, 0, 16, 0), _span(_WEEK, 21, 0, 0, 0)]},
    "OFF_PEAK": {"periods": [_span(_WEEK, 0, 0, 15, 0)]},
}
DEFAULT_TARIFF: dict[str, Any] = {
    "code": "SIM-TOU-1",
    "name": "Simulated Time of Use",
    "utility": "Simulated Utility",
    "currency": "USD",
    "version": 1,
    "daily_charges": [{"name": "Charge"}],
    "demand_charges": {"ALL": {"rates": {"ALL": 0}}},
    "energy_charges": {
        "ALL": {"rates": {"ALL": 0}},
        "Summer": {"rates": {"ON_PEAK": 0.55, "PARTIAL_PEAK": 0.42, "OFF_PEAK": 0.33}},
        "Winter": {"rates": {"ON_PEAK": 0.45, "PARTIAL_PEAK": 0.40, "OFF_PEAK": 0.31}},
    },
    "seasons": {
        "Summer": {"fromMonth": 6, "toMonth": 9, "tou_periods": copy.deepcopy(_DEFAULT_PERIODS)},
        "Winter": {"fromMonth": 10, "toMonth": 5, "tou_periods": copy.deepcopy(_DEFAULT_PERIODS)},
    },
    "sell_tariff": {"energy_charges": {"Summer": {"rates": {"ON_PEAK": 0.08, "OFF_PEAK": 0.04}}}},
}


def default_tariff() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_TARIFF)


def _int_field(obj: dict, key: str, low: int, high: int, where: str) -> int:
    value = obj.get(key, 0)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TariffError(f"{where}.{key} must be a whole number {low}-{high}")
    return value


def _unused(season: dict) -> bool:
    """``"Winter": {}`` (or all zeros and no periods): a season that is not in use."""
    return not (season.get("fromMonth") or season.get("toMonth") or season.get("tou_periods"))


def _season_months(name: str, season: dict) -> list[int]:
    where = f"seasons.{name}"
    start = _int_field(season, "fromMonth", 1, 12, where)
    end = _int_field(season, "toMonth", 1, 12, where)
    if end >= start:
        return list(range(start, end + 1))
    return list(range(start, 13)) + list(range(1, end + 1))


def _span_minutes(span: dict, where: str) -> list[int]:
    """Minute-of-week indexes a period span covers."""
    if not isinstance(span, dict):
        raise TariffError(f"{where} must be an object")
    d0 = _int_field(span, "fromDayOfWeek", 0, 6, where)
    d1 = _int_field(span, "toDayOfWeek", 0, 6, where)
    start = _int_field(span, "fromHour", 0, 24, where) * 60 + _int_field(
        span, "fromMinute", 0, 59, where)
    end = _int_field(span, "toHour", 0, 24, where) * 60 + _int_field(span, "toMinute", 0, 59, where)
    if d1 < d0:
        raise TariffError(f"{where}: toDayOfWeek is before fromDayOfWeek")
    length = (end - start) % 1440 or 1440
    return [(day * 1440 + start + m) % _MINUTES_PER_WEEK
            for day in range(d0, d1 + 1) for m in range(length)]


def _season_week(name: str, season: dict) -> np.ndarray:
    """Period code for each minute of the week; raises on gaps or overlaps."""
    week = np.full(_MINUTES_PER_WEEK, -1, dtype=np.int8)
    periods = season.get("tou_periods")
    if not isinstance(periods, dict) or not periods:
        raise TariffError(f"seasons.{name}.tou_periods must name at least one period")
    for period, body in periods.items():
        spans = body.get("periods") if isinstance(body, dict) else None
        if not isinstance(spans, list) or not spans:
            raise TariffError(f"seasons.{name}.tou_periods.{period}.periods must be a list")
        code = _PERIOD_CODES.get(period, PARTIAL_PEAK)
        for i, span in enumerate(spans):
            minutes = _span_minutes(span, f"seasons.{name}.tou_periods.{period}.periods[{i}]")
            if (week[minutes] != -1).any():
                raise TariffError(f"seasons.{name}: period {period} overlaps another period")
            week[minutes] = code
    if (week == -1).any():
        raise TariffError(f"seasons.{name}: the periods do not cover the whole week")
    return week


def _check_header(content: Any) -> dict:
    if not isinstance(content, dict):
        raise TariffError("tariff_content_v2 must be an object")
    if content.get("currency") not in CURRENCIES:
        raise TariffError(f"currency must be one of {', '.join(sorted(CURRENCIES))}")
    seasons = content.get("seasons")
    if not isinstance(seasons, dict) or not seasons:
        raise TariffError("seasons must name at least one season")
    return seasons


def slot_table(content: Any) -> np.ndarray:
    """Validate ``content`` and return period codes shaped (12 months, 7 weekdays, 288 slots).

    Raises ``TariffError`` when seasons are missing or overlap, months are uncovered, the
    periods do not tile the week exactly, or the currency is not supported.
    """
    seasons = _check_header(content)
    table = np.full((12, 7, SLOTS_PER_DAY), -1, dtype=np.int8)
    for name, season in seasons.items():
        if not isinstance(season, dict):
            raise TariffError(f"seasons.{name} must be an object")
        if _unused(season):
            continue
        week = _season_week(name, season)[:: STEP_SECONDS // 60].reshape(7, SLOTS_PER_DAY)
        for month in _season_months(name, season):
            if table[month - 1, 0, 0] != -1:
                raise TariffError(f"seasons.{name} overlaps another season in month {month}")
            table[month - 1] = week
    missing = [m + 1 for m in range(12) if table[m, 0, 0] == -1]
    if missing:
        raise TariffError(f"months {missing} are not covered by any season")
    return table


def v1_shape(content: dict[str, Any]) -> dict[str, Any]:
    """A v2 tariff in the v1 ``tariff_content`` shape: prices ``{season: {period: price}}``
    without ``rates``, periods ``{period: [spans]}`` without ``periods``, no ``version``."""
    out = {k: copy.deepcopy(v) for k, v in content.items() if k != "version"}
    for key in ("energy_charges", "demand_charges"):
        if isinstance(content.get(key), dict):
            out[key] = {season: copy.deepcopy(entry.get("rates", entry))
                        if isinstance(entry, dict) else entry
                        for season, entry in content[key].items()}
    if isinstance(content.get("seasons"), dict):
        out["seasons"] = {name: _v1_season(body) for name, body in content["seasons"].items()}
    if isinstance(content.get("sell_tariff"), dict):
        out["sell_tariff"] = v1_shape(content["sell_tariff"])
    return out


def _v1_season(body: Any) -> Any:
    if not isinstance(body, dict) or not isinstance(body.get("tou_periods"), dict):
        return copy.deepcopy(body)
    periods = {label: copy.deepcopy(p.get("periods", p)) if isinstance(p, dict) else p
               for label, p in body["tou_periods"].items()}
    return {**copy.deepcopy(body), "tou_periods": periods}
