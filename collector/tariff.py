"""Time-of-use tariffs in Tesla's ``tariff_content_v2`` shape: model, parsing, validation and a
vectorized price lookup.

What it is for:
- ``parse_tariff_json(text)`` decodes a tariff file strictly: numbers are ASCII JSON numbers and
  finite (``NaN``, ``Infinity``, ``1e999`` are refused), and a file nested too deeply for
  Python is one line, not a ``RecursionError``.
- ``load_tariff(document)`` turns decoded JSON (a bare ``tariff_content_v2`` or one wrapped in
  ``tariff_content_v2`` / ``tou_settings`` / ``response``) into a ``Tariff``; a document whose
  *structure* is wrong raises ``TariffFormatError`` (one line, exit 2).
- ``validate(tariff)`` lists every problem at once, each naming the season, period and time:
  the rules of Tesla's ``time_of_use_settings`` endpoint (see the README, 'Changing site
  settings and tariffs').
- ``price_at(tariff, index, tz)`` prices a pandas ``DatetimeIndex`` in the site's zone;
  ``compile_tariff(tariff)`` compiles the lookup once for pricing many batches.

Conventions (as the API sends them, protobuf style: zero-valued fields are omitted):
- Days of week: 0 = Monday ... 6 = Sunday (Tesla's numbering, the same as
  ``datetime.weekday()``). ``fromDayOfWeek > toDayOfWeek`` wraps over the week end.
- A period's days name the day it *starts*; an end not after its start runs past midnight
  (``toHour 0`` = midnight), and equal start and end means the whole day. ``toHour 24`` is
  accepted as midnight too (seen in real tariffs).
- Season dates are inclusive; ``fromDay 0`` means the 1st and ``toDay 0`` the last day of the
  month. A season whose end is before its start wraps over the year end (Nov -> Mar).
  29 February belongs to the season that covers 28 February unless a season names it.
- Prices: a season's own ``energy_charges`` entry (one with ``rates``) is the only one that
  prices it: ``rates[period]``, then its ``rates["ALL"]``; a period it does not price is
  *unpriced* (an error: "all periods that have time periods defined have prices"), never
  priced from the top-level ``"ALL"`` entry. Only a season without an entry of its own (or
  whose entry has no ``rates``, like ``"Winter": {}``) takes the ``"ALL"`` entry's prices.
  This is the resolver of tesla-fleet-api, the library Home Assistant uses. Every season needs
  time periods, even a flat one (one period covering the week, priced through ``ALL``).
- Whole numbers (months, days, hours, minutes) may come as ``16`` or ``16.0``.
- ``site_tariff_content(site_info)`` finds the tariff a site carries: ``tariff_content_v2``
  at the top level or under ``tou_settings``, else the older v1 ``tariff_content`` (whose
  prices are ``{season: {period: price}}`` and periods ``{period: [spans]}``, without the
  ``rates``/``periods`` wrappers), converted to the v2 shape.
- A season object with neither dates nor periods (``"Winter": {}``, seen in real tariffs) is
  unused: it is ignored with a warning.
- Prices are finite numbers (a non-finite one is a format error) within ``MAX_PRICE`` either
  way (beyond it is a validation error: a typo or an overflow, never sent to Tesla).

What it must not do: any I/O (files, network, clock, logging). Callers read files and sites.
"""

from __future__ import annotations

import calendar
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from collector.errors import UsageError

ALL = "ALL"
CURRENCIES = ("USD", "EUR", "GBP")
APP_LABELS = ("ON_PEAK", "OFF_PEAK", "PARTIAL_PEAK", "SUPER_OFF_PEAK")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = tuple(calendar.month_abbr)  # "", "Jan", ... "Dec"
MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
_LEAP_YEAR = 2000  # the reference calendar for season coverage: 366 days
_FEB29 = 59  # day index of 29 February in the reference calendar
_DAY_OF_YEAR = np.full((13, 32), -1, dtype=np.int16)  # [month, day] -> reference day index
for _m in range(1, 13):
    for _d in range(1, calendar.monthrange(_LEAP_YEAR, _m)[1] + 1):
        _DAY_OF_YEAR[_m, _d] = pd.Timestamp(_LEAP_YEAR, _m, _d).day_of_year - 1


#: Largest price either way, per kWh (per kW for demand charges): the dearest real tariffs
#: stay below 2 per kWh, so anything beyond 100 is a typo (cents for dollars) or an overflow.
MAX_PRICE = 100.0
#: Longest integer literal a tariff file may hold (Python refuses to convert 4,300+ digits).
MAX_INTEGER_DIGITS = 30


class TariffFormatError(UsageError):
    """The document is not a tariff_content_v2 structure (wrong JSON types or shape)."""


# --- decoding ----------------------------------------------------------------------------


class _BadNumber(ValueError):
    """A number a tariff cannot hold (raised inside ``json.loads``)."""


def _finite_float(text: str) -> float:
    value = float(text) if text.isascii() else math.nan
    if not math.isfinite(value):
        raise _BadNumber(f"the number {text[:40]} is not a finite ASCII number")
    return value


def _ascii_int(text: str) -> int:
    if not text.isascii() or len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _BadNumber(f"the number {text[:40]} is not an ASCII number of at most "
                         f"{MAX_INTEGER_DIGITS} digits")
    return int(text)


def _no_constant(name: str) -> float:
    raise _BadNumber(f"{name} is not a number JSON allows; prices must be finite numbers")


def parse_tariff_json(text: str) -> Any:
    """Decoded JSON of a tariff file; ``TariffFormatError`` (one line) for invalid JSON, a
    non-finite or non-ASCII number, or nesting too deep to decode."""
    try:
        return json.loads(text, parse_float=_finite_float, parse_int=_ascii_int,
                          parse_constant=_no_constant)
    except _BadNumber as exc:
        raise TariffFormatError(str(exc)) from None
    except RecursionError:
        raise TariffFormatError("the JSON is nested too deeply to be a tariff") from None
    except ValueError as exc:
        raise TariffFormatError(f"not valid JSON: {exc}") from None


# --- model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """One entry of ``tou_periods[PERIOD].periods``: days of week and a time of day range."""

    from_day: int = 0
    to_day: int = 0
    from_hour: int = 0
    from_minute: int = 0
    to_hour: int = 0
    to_minute: int = 0

    @property
    def start(self) -> int:
        return self.from_hour * 60 + self.from_minute

    @property
    def end(self) -> int:
        return self.to_hour * 60 + self.to_minute

    def days(self) -> list[int]:
        if self.from_day <= self.to_day:
            return list(range(self.from_day, self.to_day + 1))
        return [*range(self.from_day, 7), *range(0, self.to_day + 1)]

    def length(self) -> int:
        """Minutes covered on each day it starts (end <= start runs past midnight)."""
        return (self.end - self.start) % MINUTES_PER_DAY or MINUTES_PER_DAY

    def minutes(self) -> np.ndarray:
        """Minute-of-week indexes covered (Monday 00:00 = 0), wrapping over the week end."""
        offsets = np.arange(self.length())
        starts = np.array(self.days()) * MINUTES_PER_DAY + self.start
        return ((starts[:, None] + offsets[None, :]) % MINUTES_PER_WEEK).ravel()

    def range_problems(self) -> list[str]:
        checks = (
            ("fromDayOfWeek", self.from_day, 0, 6),
            ("toDayOfWeek", self.to_day, 0, 6),
            ("fromHour", self.from_hour, 0, 23),
            ("fromMinute", self.from_minute, 0, 59),
            ("toHour", self.to_hour, 0, 24),
            ("toMinute", self.to_minute, 0, 59),
        )
        out = [f"{name} {value} is outside {low}-{high}"
               for name, value, low, high in checks if not low <= value <= high]
        if not out and self.end > MINUTES_PER_DAY:
            out.append(f"end {self.to_hour}:{self.to_minute:02d} is after 24:00")
        return out

    def describe(self) -> str:
        days = _day_range(self.days()[0], self.days()[-1]) if self.days() else "?"
        return f"{days} {_hhmm(self.start)}-{_hhmm(self.end or MINUTES_PER_DAY)}"


@dataclass(frozen=True)
class Season:
    name: str
    from_month: int = 0
    from_day: int = 0
    to_month: int = 0
    to_day: int = 0
    periods: dict[str, tuple[Span, ...]] = field(default_factory=dict)

    @property
    def unused(self) -> bool:
        """``"Winter": {}``: no dates and no periods (real tariffs carry such objects)."""
        return not (self.from_month or self.to_month or self.periods)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.periods)

    def spans(self, label: str) -> tuple[Span, ...]:
        return self.periods.get(label, ())

    def first_day(self) -> int:
        return self.from_day or 1

    def last_day(self) -> int:
        return self.to_day or calendar.monthrange(_LEAP_YEAR, self.to_month)[1]

    def describe_dates(self) -> str:
        return (f"{MONTHS[self.from_month]} {self.first_day()} - "
                f"{MONTHS[self.to_month]} {self.last_day()}")


Rates = dict[str, dict[str, float]]  # season (or ALL) -> period (or ALL) -> price


@dataclass(frozen=True)
class Side:
    """Buy side (the tariff itself) or sell side (``sell_tariff``) of a tariff."""

    title: str  # "energy_charges" or "sell_tariff.energy_charges", for messages
    seasons: dict[str, Season]
    energy: Rates
    demand: Rates
    own_seasons: bool = True

    def active_seasons(self) -> list[Season]:
        return [s for s in self.seasons.values() if not s.unused]

    def price(self, season: str, label: str, rates: Rates | None = None) -> float | None:
        """The price of ``label`` in ``season`` from the season's own entry, or from the
        ``ALL`` entry only when the season has none (see the module docstring)."""
        table = self.energy if rates is None else rates
        entry = table[season] if season in table else table.get(ALL, {})
        for name in (label, ALL):
            if name in entry:
                return entry[name]
        return None


@dataclass(frozen=True)
class Tariff:
    name: str
    code: str
    utility: str
    currency: str
    buy: Side
    sell: Side | None
    daily_charges: tuple[tuple[str, float], ...]
    content: dict[str, Any]  # the decoded tariff_content_v2, as given (the POST body part)


@dataclass(frozen=True)
class Problem:
    level: str  # "error" or "warning"
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


# --- parsing -----------------------------------------------------------------------------


def unwrap(document: Any) -> dict[str, Any]:
    """The ``tariff_content_v2`` object from a bare tariff or a known envelope."""
    current = document
    for key in ("response", "tou_settings", "tariff_content_v2"):
        if isinstance(current, dict) and key in current and "seasons" not in current:
            current = current[key]
    if not isinstance(current, dict):
        raise TariffFormatError("the tariff must be a JSON object (tariff_content_v2)")
    if "seasons" not in current:
        raise TariffFormatError("not a tariff_content_v2 object: it has no 'seasons'")
    return current


def site_tariff_content(site_info: Mapping[str, Any]) -> dict[str, Any] | None:
    """The tariff a ``site_info`` reply carries in the v2 shape: ``tariff_content_v2`` at the
    top level or under ``tou_settings``, else the v1 ``tariff_content`` converted
    (``v1_to_v2``); None when it carries none (or a v1 tariff without seasons). The one place
    that knows where a site's tariff lives in ``site_info``; callers hand the result to
    ``load_tariff``."""
    if not isinstance(site_info, Mapping):
        return None
    for holder in (site_info, site_info.get("tou_settings")):
        content = holder.get("tariff_content_v2") if isinstance(holder, Mapping) else None
        if isinstance(content, dict) and content:
            return content
    v1 = site_info.get("tariff_content")
    if isinstance(v1, dict) and isinstance(v1.get("seasons"), dict):
        return v1_to_v2(v1)
    return None


def v1_to_v2(content: Mapping[str, Any]) -> dict[str, Any]:
    """A v1 ``tariff_content`` in the v2 shape: each charges entry's prices wrapped in
    ``rates`` and each period's span list in ``periods`` (already-wrapped parts are kept; other
    keys are copied). Values it cannot convert are left for ``load_tariff`` to report."""
    out = dict(content)
    for key in ("energy_charges", "demand_charges"):
        if isinstance(content.get(key), dict):
            out[key] = {season: _v2_rates(entry) for season, entry in content[key].items()}
    if isinstance(content.get("seasons"), dict):
        out["seasons"] = {name: _v2_season(body) for name, body in content["seasons"].items()}
    if isinstance(content.get("sell_tariff"), dict):
        out["sell_tariff"] = v1_to_v2(content["sell_tariff"])
    return out


def _v2_rates(entry: Any) -> Any:
    if not isinstance(entry, dict) or not entry or "rates" in entry:
        return entry
    return {"rates": dict(entry)}


def _v2_season(body: Any) -> Any:
    if not isinstance(body, dict) or not isinstance(body.get("tou_periods"), dict):
        return body
    periods = {label: {"periods": spans} if isinstance(spans, list) else spans
               for label, spans in body["tou_periods"].items()}
    return {**body, "tou_periods": periods}


def load_tariff(document: Any) -> Tariff:
    """Parse decoded JSON into a ``Tariff``; wrong structure raises ``TariffFormatError``."""
    content = unwrap(document)
    buy = Side("energy_charges", _seasons(content.get("seasons"), "seasons"),
               _charges(content.get("energy_charges"), "energy_charges"),
               _charges(content.get("demand_charges"), "demand_charges"))
    return Tariff(
        name=_text(content, "name"),
        code=_text(content, "code"),
        utility=_text(content, "utility"),
        currency=_text(content, "currency"),
        buy=buy,
        sell=_sell_side(content.get("sell_tariff"), buy),
        daily_charges=_daily(content.get("daily_charges")),
        content=content,
    )


def _sell_side(raw: Any, buy: Side) -> Side | None:
    if raw is None:
        return None
    obj = _object(raw, "sell_tariff")
    seasons = _seasons(obj.get("seasons"), "sell_tariff.seasons") if obj.get("seasons") else {}
    return Side(
        "sell_tariff.energy_charges",
        seasons or buy.seasons,
        _charges(obj.get("energy_charges"), "sell_tariff.energy_charges"),
        _charges(obj.get("demand_charges"), "sell_tariff.demand_charges"),
        own_seasons=bool(seasons),
    )


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TariffFormatError(f"{where} must be a JSON object, not {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    """What a JSON value is, for messages (never the repr of a container: it may be huge or
    nested beyond Python's recursion limit)."""
    return {list: "a list", dict: "an object", str: "a string", bool: "true/false",
            type(None): "null"}.get(type(value), f"{type(value).__name__} {value!r:.40}")


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key, "")
    if not isinstance(value, str):
        raise TariffFormatError(f"{key} must be a string, not {_kind(value)}")
    return value


def _whole(obj: Mapping[str, Any], key: str, where: str) -> int:
    value = obj.get(key, 0)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TariffFormatError(f"{where}.{key} must be a whole number, not {_kind(value)}")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TariffFormatError(f"{where} must be a number, not {_kind(value)}")
    if not math.isfinite(value):
        raise TariffFormatError(f"{where} must be a finite number, not {value!r}")
    return float(value)


def _seasons(raw: Any, where: str) -> dict[str, Season]:
    return {name: _season(name, _object(body, f"{where}.{name}"), f"{where}.{name}")
            for name, body in _object(raw, where).items()}


def _season(name: str, obj: dict[str, Any], where: str) -> Season:
    raw_periods = obj.get("tou_periods") or {}
    periods = {label: _spans(body, f"{where}.tou_periods.{label}")
               for label, body in _object(raw_periods, f"{where}.tou_periods").items()}
    return Season(name, *(_whole(obj, k, where) for k in
                          ("fromMonth", "fromDay", "toMonth", "toDay")), periods=periods)


def _spans(body: Any, where: str) -> tuple[Span, ...]:
    items = _object(body, where).get("periods", [])
    if not isinstance(items, list):
        raise TariffFormatError(f"{where}.periods must be a list, not {_kind(items)}")
    keys = ("fromDayOfWeek", "toDayOfWeek", "fromHour", "fromMinute", "toHour", "toMinute")
    return tuple(Span(*(_whole(_object(item, f"{where}.periods[{i}]"), k,
                               f"{where}.periods[{i}]") for k in keys))
                 for i, item in enumerate(items))


def _charges(raw: Any, where: str) -> Rates:
    """Prices per season entry; an entry without ``rates`` (``"Winter": {}``) is no entry."""
    out: Rates = {}
    for season, body in _object(raw or {}, where).items():
        entry = _object(body, f"{where}.{season}")
        if entry.get("rates") is None:
            continue
        rates = _object(entry["rates"], f"{where}.{season}.rates")
        out[season] = {label: _number(v, f"{where}.{season}.rates.{label}")
                       for label, v in rates.items()}
    return out


def _daily(raw: Any) -> tuple[tuple[str, float], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise TariffFormatError(f"daily_charges must be a list, not {_kind(raw)}")
    items = [_object(item, f"daily_charges[{i}]") for i, item in enumerate(raw)]
    return tuple((str(item.get("name", "")), _number(item.get("amount", 0), "daily_charges"))
                 for item in items)


# --- formatting helpers ------------------------------------------------------------------


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _day_range(first: int, last: int) -> str:
    return WEEKDAYS[first] if first == last else f"{WEEKDAYS[first]}-{WEEKDAYS[last]}"


def _days_text(days: list[int]) -> str:
    """``[0,1,2,4]`` -> ``Monday-Wednesday, Friday``."""
    groups: list[list[int]] = []
    for day in sorted(days):
        if groups and day == groups[-1][-1] + 1:
            groups[-1].append(day)
        else:
            groups.append([day])
    return ", ".join(_day_range(g[0], g[-1]) for g in groups)


def _date_text(day_index: int) -> str:
    stamp = pd.Timestamp(_LEAP_YEAR, 1, 1) + pd.Timedelta(days=day_index)
    return f"{MONTHS[stamp.month]} {stamp.day}"


def _and(names: Iterable[str]) -> str:
    items = list(names)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _runs(keys: list[Any]) -> list[tuple[int, int, Any]]:
    """Maximal runs of equal keys: ``(start, end_exclusive, key)``; ``None`` keys skipped."""
    out: list[tuple[int, int, Any]] = []
    for i, key in enumerate(keys):
        if key is None:
            continue
        if out and out[-1][1] == i and out[-1][2] == key:
            out[-1] = (out[-1][0], i + 1, key)
        else:
            out.append((i, i + 1, key))
    return out


# --- validation --------------------------------------------------------------------------


def validate(tariff: Tariff) -> list[Problem]:
    """Every problem of ``tariff`` (errors first), each naming season, period and time."""
    problems: list[Problem] = []
    problems += _currency_problems(tariff.currency)
    for side in _sides(tariff):
        if side.own_seasons:
            problems += _season_problems(side)
        problems += _charge_problems(side)
    problems += _label_problems(tariff.buy)
    if not any(p.level == "error" for p in problems):
        problems += _buy_below_sell(tariff)
    return sorted(problems, key=lambda p: p.level != "error")


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.level == "error"]


def _sides(tariff: Tariff) -> list[Side]:
    return [tariff.buy] + ([tariff.sell] if tariff.sell else [])


def _prefix(side: Side) -> str:
    return "sell_tariff: " if side.title.startswith("sell") else ""


def _currency_problems(currency: str) -> list[Problem]:
    if currency in CURRENCIES:
        return []
    shown = f"{currency!r}" if currency else "missing"
    return [Problem("error", f"currency is {shown}; Tesla accepts only {_and(CURRENCIES)}")]


def _season_problems(side: Side) -> list[Problem]:
    pre = _prefix(side)
    out = [Problem("warning", f"{pre}season {s.name} has no dates and no periods; it is ignored")
           for s in side.seasons.values() if s.unused]
    active = side.active_seasons()
    if not active:
        return out + [Problem("error", f"{pre}seasons: at least one season is required")]
    dated = []
    for season in active:
        date_errors = _date_problems(season)
        out += [Problem("error", f"{pre}{m}") for m in date_errors]
        out += [Problem("error", f"{pre}{m}") for m in _week_problems(season)]
        if not date_errors:
            dated.append(season)
    if len(dated) == len(active):
        out += [Problem(level, f"{pre}{m}") for level, m in _year_problems(dated)]
    return out


def _date_problems(season: Season) -> list[str]:
    out = []
    for label, month, day in (("from", season.from_month, season.from_day),
                              ("to", season.to_month, season.to_day)):
        if not 1 <= month <= 12:
            out.append(f"season {season.name}: {label}Month {month} is outside 1-12")
        elif not 0 <= day <= calendar.monthrange(_LEAP_YEAR, month)[1]:
            out.append(f"season {season.name}: {label}Day {day} does not exist in "
                       f"{calendar.month_name[month]}")
    return out


def _week_problems(season: Season) -> list[str]:
    """Span range errors, then every overlap and gap in the week, grouped over days."""
    if not season.periods:
        return [f"season {season.name}: has no time periods (tou_periods); a flat tariff needs "
                "one period covering the whole week, priced through ALL"]
    out: list[str] = []
    owners = np.zeros((len(season.labels), MINUTES_PER_WEEK), dtype=bool)
    counts = np.zeros(MINUTES_PER_WEEK, dtype=np.int16)
    for row, label in enumerate(season.labels):
        for i, span in enumerate(season.spans(label)):
            bad = span.range_problems()
            out += [f"season {season.name}, period {label}, periods[{i}]: {m}" for m in bad]
            if not bad:
                owners[row, span.minutes()] = True
                np.add.at(counts, span.minutes(), 1)
        if not season.spans(label):
            out.append(f"season {season.name}, period {label}: has no time periods")
    if out:
        return out
    return [f"season {season.name}: {text}"
            for text in _coverage_texts(season.labels, owners, counts)]


def _coverage_texts(labels: tuple[str, ...], owners: np.ndarray, counts: np.ndarray) -> list[str]:
    keys: list[Any] = [None] * MINUTES_PER_WEEK
    for minute in np.flatnonzero(counts != 1):
        keys[minute] = tuple(labels[r] for r in np.flatnonzero(owners[:, minute]))
    grouped: dict[tuple[int, int, Any], list[int]] = {}
    for day in range(7):
        day_keys = keys[day * MINUTES_PER_DAY:(day + 1) * MINUTES_PER_DAY]
        for start, end, key in _runs(day_keys):
            grouped.setdefault((start, end, key), []).append(day)
    return [f"{_days_text(days)} {_hhmm(start)}-{_hhmm(end)} {_coverage_text(key)}"
            for (start, end, key), days in sorted(grouped.items(), key=lambda kv: (kv[1], kv[0]))]


def _coverage_text(names: tuple[str, ...]) -> str:
    """A gap (no names), one period counted twice, or several periods at once."""
    if not names:
        return "not covered by any period"
    if len(names) == 1:
        return f"covered more than once by {names[0]}"
    return f"covered by {_and(names)}"


def _season_days(season: Season) -> np.ndarray:
    """Reference-calendar day indexes (0..365) the season covers, wrapping the year end."""
    first = int(_DAY_OF_YEAR[season.from_month, season.first_day()])
    last = int(_DAY_OF_YEAR[season.to_month, season.last_day()])
    return np.arange(first, last + 1 if last >= first else last + 1 + 366) % 366


def _year_coverage(seasons: list[Season]) -> np.ndarray:
    owners = np.zeros((len(seasons), 366), dtype=bool)
    for row, season in enumerate(seasons):
        owners[row, _season_days(season)] = True
    return owners


def _year_problems(seasons: list[Season]) -> list[tuple[str, str]]:
    owners = _year_coverage(seasons)
    counts = owners.sum(axis=0)
    out: list[tuple[str, str]] = []
    if counts[_FEB29] == 0 and counts[_FEB29 - 1] == 1:
        owner = seasons[int(np.flatnonzero(owners[:, _FEB29 - 1])[0])].name
        out.append(("warning", f"no season names Feb 29; in leap years it is taken as part of "
                               f"season {owner} (the season of Feb 28)"))
        counts[_FEB29] = 1
    keys: list[Any] = [None] * 366
    for day in np.flatnonzero(counts != 1):
        keys[day] = tuple(seasons[r].name for r in np.flatnonzero(owners[:, day]))
    for start, end, key in _runs(keys):
        when = _date_text(start) + ("" if end - start == 1 else f" - {_date_text(end - 1)}")
        text = (f"seasons {_and(key)} overlap on {when}" if key
                else f"no season covers {when}")
        out.append(("error", text))
    return out


def _charge_problems(side: Side) -> list[Problem]:
    out: list[Problem] = []
    for title, rates in ((side.title, side.energy),
                         (side.title.replace("energy", "demand"), side.demand)):
        out += [Problem("error", m) for m in _orphan_prices(side, title, rates)]
        out += _absurd_prices(title, rates)
        out += _negative_prices(title, rates)
    sell = side.title.startswith("sell")
    for season in side.active_seasons():
        for label in season.labels:
            if side.price(season.name, label) is None:
                text = (f"{side.title}: season {season.name}, period {label} has time periods "
                        "but no price")
                out.append(Problem("warning", text + "; exports there are not priced")
                           if sell else Problem("error", text))
    return out


def _orphan_prices(side: Side, title: str, rates: Rates) -> list[str]:
    """Prices for seasons or periods that have no time periods."""
    seasons = {s.name: s for s in side.active_seasons()}
    all_labels = {label for s in seasons.values() for label in s.labels}
    out = []
    for season_name, entry in rates.items():
        if season_name == ALL:
            known = all_labels
        elif season_name in seasons:
            known = set(seasons[season_name].labels)
        else:
            if entry:
                out.append(f"{title}: prices for season {season_name}, which is not defined "
                           "in seasons (or has no dates)")
            continue
        out += [f"{title}: season {season_name} has a price for period {label}, which has no "
                "time periods" for label in entry if label != ALL and label not in known]
    return out


def _absurd_prices(title: str, rates: Rates) -> list[Problem]:
    unit = "kW" if title.endswith("demand_charges") else "kWh"
    return [Problem("error", f"{title}: season {season}, period {label}: price {price:g} is "
                             f"beyond {MAX_PRICE:g} per {unit} either way; prices are per "
                             f"{unit} in the tariff's currency (e.g. 0.25)")
            for season, entry in rates.items() for label, price in entry.items()
            if abs(price) > MAX_PRICE]


def _negative_prices(title: str, rates: Rates) -> list[Problem]:
    return [Problem("warning", f"{title}: season {season}, period {label}: price {price:g} is "
                               "negative; Tesla will round it to 0")
            for season, entry in rates.items() for label, price in entry.items() if price < 0]


def _label_problems(side: Side) -> list[Problem]:
    odd = sorted({label for s in side.active_seasons() for label in s.periods
                  if label not in APP_LABELS and label != ALL})
    if not odd:
        return []
    shown = ", ".join(odd[:5]) + (f" and {len(odd) - 5} more" if len(odd) > 5 else "")
    return [Problem("warning", f"period labels {shown} are not shown by the Tesla app (it only "
                               f"displays {', '.join(APP_LABELS)})")]


def _buy_below_sell(tariff: Tariff) -> list[Problem]:
    if tariff.sell is None:
        return []
    buy, sell = compile_side(tariff.buy), compile_side(tariff.sell)
    pairs = {(int(b), int(s)) for b, s in zip(buy.season_of_day, sell.season_of_day,
                                              strict=True)}
    found: dict[tuple[str, str], tuple[float, float]] = {}
    for b_season, s_season in sorted(pairs):
        b_period, s_period = buy.week[b_season], sell.week[s_season]
        b_price, s_price = buy.price[b_season, b_period], sell.price[s_season, s_period]
        for minute in np.flatnonzero(b_price < s_price):
            key = (buy.seasons[b_season], buy.periods[b_period[minute]])
            found.setdefault(key, (float(b_price[minute]), float(s_price[minute])))
    return [Problem("warning", f"season {season}, period {period}: buy price {b:g} is below the "
                               f"sell price {s:g}; Tesla will raise the buy price to {s:g}")
            for (season, period), (b, s) in found.items()]


# --- price lookup ------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledSide:
    """Lookup arrays: day -> season, (season, minute of week) -> period, -> price."""

    seasons: tuple[str, ...]
    periods: tuple[str, ...]
    season_of_day: np.ndarray  # (366,) season index per reference-calendar day, -1 none
    week: np.ndarray  # (n_seasons, 10080) period index, -1 none
    price: np.ndarray  # (n_seasons + 1, n_periods + 1) price; the last row/column is NaN

    def season_of(self, month: np.ndarray, day: np.ndarray) -> np.ndarray:
        return self.season_of_day[_DAY_OF_YEAR[month, day]]


def compile_side(side: Side) -> CompiledSide:
    """Precompute the lookup arrays for one side (run ``validate`` first for exact results)."""
    seasons = [s for s in side.active_seasons() if not _date_problems(s)]
    periods = sorted({label for s in seasons for label in s.labels})
    index = {label: i for i, label in enumerate(periods)}
    week = np.full((len(seasons), MINUTES_PER_WEEK), -1, dtype=np.int16)
    price = np.full((len(seasons) + 1, len(periods) + 1), np.nan)
    for row, season in enumerate(seasons):
        for label in season.labels:
            for span in season.spans(label):
                if not span.range_problems():
                    week[row, span.minutes()] = index[label]
            found = side.price(season.name, label)
            price[row, index[label]] = np.nan if found is None else found
    return CompiledSide(tuple(s.name for s in seasons), tuple(periods),
                        _season_of_day(seasons), week, price)


def _season_of_day(seasons: list[Season]) -> np.ndarray:
    owners = _year_coverage(seasons)
    out = np.where(owners.any(axis=0), owners.argmax(axis=0), -1).astype(np.int16)
    if out[_FEB29] == -1:
        out[_FEB29] = out[_FEB29 - 1]
    return out


def _lookup(compiled: CompiledSide, month: np.ndarray, day: np.ndarray,
            minute_of_week: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(season index, period index, price) per instant; -1 / NaN where nothing applies."""
    season = compiled.season_of(month, day)
    period = np.where(season >= 0, compiled.week[season, minute_of_week], -1)
    return season, period, compiled.price[season, period]


@dataclass(frozen=True)
class CompiledTariff:
    """A tariff's lookup arrays, compiled once: price many batches of instants without
    recompiling (``price_at`` compiles on every call). Also the per-kW demand rate per
    season and period (``demand``, NaN where the tariff has none)."""

    tariff: Tariff
    buy: CompiledSide
    sell: CompiledSide | None
    demand: np.ndarray  # (n_seasons + 1, n_periods + 1) per-kW demand rate of the buy side

    def lookup(self, index: pd.DatetimeIndex,
               tz: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(season code, period code, buy, sell) per instant as arrays: ``price_at`` without
        the frame (codes index ``buy.seasons``/``buy.periods``, -1 where none applies)."""
        local = (index if index.tz is not None else index.tz_localize("UTC")).tz_convert(tz)
        month = np.asarray(local.month, dtype=np.intp)
        day = np.asarray(local.day, dtype=np.intp)
        minute_of_week = (np.asarray(local.day_of_week, dtype=np.intp) * MINUTES_PER_DAY
                          + np.asarray(local.hour, dtype=np.intp) * 60
                          + np.asarray(local.minute, dtype=np.intp))
        season, period, buy_price = _lookup(self.buy, month, day, minute_of_week)
        sell_price = (_lookup(self.sell, month, day, minute_of_week)[2]
                      if self.sell else np.full(len(index), np.nan))
        return season, period, buy_price, sell_price

    def price_at(self, index: pd.DatetimeIndex, tz: str) -> pd.DataFrame:
        """Buy and sell price, season and period in force at each instant of ``index``.

        ``index`` holds instants (a naive index is taken as UTC); ``tz`` is the site's IANA
        zone. Prices are the tariff's own (not Tesla's adjustments for negative or buy < sell
        prices); NaN where the tariff has no price (e.g. no sell tariff).
        """
        season, period, buy_price, sell_price = self.lookup(index, tz)
        return pd.DataFrame({
            "buy": buy_price,
            "sell": sell_price,
            "season": pd.Categorical.from_codes(season, categories=list(self.buy.seasons)),
            "period": pd.Categorical.from_codes(period, categories=list(self.buy.periods)),
        }, index=index)


def compile_tariff(tariff: Tariff) -> CompiledTariff:
    """Compile both sides of ``tariff`` (run ``validate`` first for exact results)."""
    buy = compile_side(tariff.buy)
    demand = np.full(buy.price.shape, np.nan)
    for row, season in enumerate(buy.seasons):
        for column, label in enumerate(buy.periods):
            found = tariff.buy.price(season, label, tariff.buy.demand)
            demand[row, column] = np.nan if found is None else found
    return CompiledTariff(tariff, buy, compile_side(tariff.sell) if tariff.sell else None,
                          demand)


def price_at(tariff: Tariff, index: pd.DatetimeIndex, tz: str) -> pd.DataFrame:
    """``compile_tariff(tariff).price_at(index, tz)``: see ``CompiledTariff.price_at``."""
    return compile_tariff(tariff).price_at(index, tz)


# --- schedule (for display) --------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One stretch of a day: ``start``-``end`` minutes of the day, its period and prices."""

    start: int
    end: int
    period: str
    buy: float | None
    sell: float | None


@dataclass(frozen=True)
class SeasonSchedule:
    season: Season
    days: tuple[tuple[tuple[int, ...], tuple[Slot, ...]], ...]  # (weekdays, their slots)


def schedule(tariff: Tariff, side: Side | None = None) -> list[SeasonSchedule]:
    """Each season's week as groups of weekdays sharing the same slots (buy side by default).

    Sell prices are filled in when the sell tariff shares the buy seasons; a sell tariff with
    seasons of its own is scheduled separately (``schedule(tariff, tariff.sell)``).
    """
    side = side or tariff.buy
    compiled = compile_side(side)
    sell = tariff.sell if side is tariff.buy and tariff.sell and not tariff.sell.own_seasons \
        else None
    out = []
    for row, name in enumerate(compiled.seasons):
        groups: dict[tuple[Slot, ...], list[int]] = {}
        for day in range(7):
            codes = compiled.week[row, day * MINUTES_PER_DAY:(day + 1) * MINUTES_PER_DAY]
            slots = tuple(_slot(side, sell, name, compiled.periods, start, end, int(code))
                          for start, end, code in _runs(list(codes)))
            groups.setdefault(slots, []).append(day)
        days = tuple((tuple(d), slots) for slots, d in groups.items())
        out.append(SeasonSchedule(side.seasons[name], days))
    return out


def _slot(side: Side, sell: Side | None, season: str, periods: tuple[str, ...], start: int,
          end: int, code: int) -> Slot:
    label = periods[code] if code >= 0 else "-"
    return Slot(start, end, label, side.price(season, label),
                sell.price(season, label) if sell else None)


def day_names(days: Iterable[int]) -> str:
    """``(0, 1, 2, 3, 4)`` -> ``Monday-Friday`` (for display)."""
    return _days_text(list(days))


def hhmm(minute: int) -> str:
    return _hhmm(minute)
