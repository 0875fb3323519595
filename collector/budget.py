"""The Fleet API bill: requests per day by endpoint at given intervals, the projected monthly
cost after the credit, and a plan of intervals that keeps the daemon within a monthly budget.

Pure arithmetic, no I/O. A month is planned as 32 days (the longest month plus a day of
headroom for first runs and restarts), so a planned month never exceeds the budget.
Per site and day the daemon makes ``86400/live`` live_status requests,
``86400/site_info`` site_info requests and, every history interval, four history requests
(energy of today and yesterday, backup events, charge sessions; see ``collector.jobs``). Gap
fills and backfills are extra (one request per missing day and kind) and not in the plan.
With a budget, intervals are stretched in this order: live polling (up to ``MAX_LIVE``), then
site_info (up to ``MAX_SITE_INFO``), history refresh last (up to ``MAX_HISTORY``).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace
from datetime import datetime

from collector.config import IntervalSettings, Settings
from collector.errors import ConfigError

DAY = 86400.0
MONTH_DAYS = 31
#: The plan fits 32 days of polling into the budget: a 31-day month plus a day of headroom for
#: each job's immediate first run, restarts and gap fills.
PLAN_DAYS = 32
HISTORY_REQUESTS = 4  # energy today + yesterday, backup events, charge sessions
MAX_LIVE = 3600.0
MAX_SITE_INFO = DAY
MAX_HISTORY = DAY


@dataclass(frozen=True)
class Bill:
    """Requests per day by endpoint group for ``sites`` sites and the monthly projection."""

    sites: int
    intervals: IntervalSettings
    per_day: dict[str, float]
    price: float
    credit: float

    @property
    def requests_per_day(self) -> float:
        return sum(self.per_day.values())

    def monthly_requests(self, days: int = MONTH_DAYS) -> float:
        return self.requests_per_day * days

    def gross(self, days: int = MONTH_DAYS) -> float:
        return self.monthly_requests(days) * self.price

    def after_credit(self, days: int = MONTH_DAYS) -> float:
        return max(0.0, self.gross(days) - self.credit)


def requests_per_day(sites: int, intervals: IntervalSettings) -> dict[str, float]:
    return {
        "live_status": sites * DAY / intervals.live_seconds,
        "site_info": sites * DAY / intervals.site_info_seconds,
        "history": sites * HISTORY_REQUESTS * DAY / intervals.history_seconds,
    }


def bill(sites: int, settings: Settings, intervals: IntervalSettings | None = None) -> Bill:
    chosen = intervals or settings.intervals
    return Bill(sites, chosen, requests_per_day(sites, chosen), settings.api.price_data,
                settings.api.monthly_credit)


def _stretch(current: float, allowed_per_day: float, per_call: float, maximum: float
             ) -> float | None:
    """The shortest whole-second interval >= ``current`` whose requests fit, or None when
    even ``maximum`` does not."""
    if allowed_per_day <= 0 or per_call * DAY / maximum > allowed_per_day + 1e-9:
        return None
    return max(current, float(math.ceil(per_call * DAY / allowed_per_day)))


def plan(sites: int, settings: Settings) -> IntervalSettings:
    """The configured intervals, stretched to stay within ``api.budget`` (unchanged without
    one). Raises ``ConfigError`` when even the longest intervals cost more."""
    budget = settings.api.budget
    current = settings.intervals
    if budget is None or sites <= 0 or settings.api.price_data <= 0:
        return current
    allowed = (budget + settings.api.monthly_credit) / settings.api.price_data / PLAN_DAYS
    per_site = allowed / sites
    used = requests_per_day(1, current)
    if sum(used.values()) <= per_site:
        return current
    fixed = used["site_info"] + used["history"]
    live = _stretch(current.live_seconds, per_site - fixed, 1, MAX_LIVE)
    if live is not None:
        return replace(current, live_seconds=live)
    live = max(current.live_seconds, MAX_LIVE)
    site_info = _stretch(current.site_info_seconds, per_site - DAY / live - used["history"], 1,
                         MAX_SITE_INFO)
    if site_info is not None:
        return replace(current, live_seconds=live, site_info_seconds=site_info)
    site_info = max(current.site_info_seconds, MAX_SITE_INFO)
    history = _stretch(current.history_seconds, per_site - DAY / live - DAY / site_info,
                       HISTORY_REQUESTS, MAX_HISTORY)
    if history is None:
        cheapest = bill(sites, settings, IntervalSettings(live, site_info, MAX_HISTORY))
        raise ConfigError(
            f"COLLECTOR_API_BUDGET {budget:g} USD is too small for {sites} site(s): even "
            f"the longest intervals cost {cheapest.after_credit():.2f} USD a month after the "
            "credit; raise the budget or collect fewer sites")
    return IntervalSettings(live, site_info, history)


def describe(plan_bill: Bill, configured: Bill | None = None) -> list[str]:
    """The ``budget`` report: requests per day by endpoint and the monthly projection."""
    lines = [f"{plan_bill.sites} site(s) at live {plan_bill.intervals.live_seconds:g} s, "
             f"site_info {plan_bill.intervals.site_info_seconds:g} s, history "
             f"{plan_bill.intervals.history_seconds:g} s:"]
    for endpoint, count in plan_bill.per_day.items():
        lines.append(f"  {endpoint:12} {count:10,.1f} requests/day")
    lines.append(f"  {'total':12} {plan_bill.requests_per_day:10,.1f} requests/day, "
                 f"{plan_bill.monthly_requests():,.0f} in a {MONTH_DAYS}-day month")
    lines.append(f"projected: {plan_bill.gross():.2f} USD a month at {plan_bill.price:g} USD "
                 f"per request, {plan_bill.after_credit():.2f} USD after the "
                 f"{plan_bill.credit:g} USD credit")
    if configured is not None and configured.intervals != plan_bill.intervals:
        lines.insert(0, f"budget: the configured intervals would cost "
                     f"{configured.after_credit():.2f} USD a month; stretched to fit")
    return lines


class MonthToDate:
    """Billable requests of the current UTC month (starts at 0 with the process; the stored
    ``collector.billable`` points keep the month across restarts)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._month: tuple[int, int] | None = None
        self.requests = 0

    def add(self, requests: int, at: datetime) -> int:
        """Count ``requests`` billed at ``at`` (UTC); a new month starts from 0."""
        with self._lock:
            month = (at.year, at.month)
            if month != self._month:
                self._month, self.requests = month, 0
            self.requests += requests
            return self.requests

    def cost(self, price: float) -> float:
        return self.requests * price
