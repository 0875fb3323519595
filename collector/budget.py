"""The Fleet API bill: requests per day by endpoint at given intervals, the projected monthly
cost after the credit, and a plan of intervals that keeps the daemon within a monthly budget.

Arithmetic, plus the month-to-date counter with the hard stop (``MonthToDate``: its one
log line is its only output). A month is planned as 32 days (the longest month plus a day of
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
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from collector.config import IntervalSettings, Settings
from collector.errors import BudgetExhausted, ConfigError
from collector.log import get_logger

log = get_logger(__name__)

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
    """Billable requests of the current UTC month and, with a cap (``limit`` requests), the
    hard stop: ``admit`` refuses a request once the month's billable requests reach the cap
    (``BudgetExhausted``; logged once a month) until the next UTC month starts. Counted when
    a request is sent (``refund`` when its answer was not billable), so concurrent jobs never
    pass the cap. Starts at 0 with the process; the daemon seeds it from the stored
    ``collector.billable`` points (``seed``)."""

    def __init__(self, limit: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._month: tuple[int, int] | None = None
        self.limit = limit
        self.requests = 0
        self._announced = False

    def _roll(self, at: datetime) -> None:
        """Start a new month from 0 (lock held)."""
        month = (at.year, at.month)
        if month != self._month:
            if self._announced:
                log.info("new month: Fleet API requests resume", month=f"{month[0]}-{month[1]:02}")
            self._month, self.requests, self._announced = month, 0, False

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def add(self, requests: int, at: datetime) -> int:
        """Count ``requests`` billed at ``at`` (UTC); a new month starts from 0."""
        with self._lock:
            self._roll(at)
            self.requests += requests
            return self.requests

    def seed(self, requests: int) -> None:
        """This month's billable requests so far, as stored before a restart."""
        with self._lock:
            self._roll(self._now())
            self.requests = max(self.requests, requests)

    def _reached(self, now: datetime) -> bool:
        """Whether the cap is reached this month; says so once a month (lock held)."""
        self._roll(now)
        reached = self.limit is not None and self.requests >= self.limit
        if reached and not self._announced:
            self._announced = True
            log.warning("COLLECTOR_API_BUDGET reached: no Fleet API requests until the next "
                        "month", billable_requests=self.requests, limit=self.limit,
                        resume_at=next_month(now).isoformat())
        return reached

    def paused(self) -> bool:
        """True while this month's cap is reached (then nothing billable may be sent)."""
        with self._lock:
            return self._reached(self._now())

    def admit(self, endpoint: str) -> None:
        """Count one request about to be sent, or raise ``BudgetExhausted``."""
        with self._lock:
            now = self._now()
            if not self._reached(now):
                self.requests += 1
                return
        resume = next_month(now)
        raise BudgetExhausted(f"{endpoint}: COLLECTOR_API_BUDGET reached ({self.limit} "
                              f"billable requests this month); paused until "
                              f"{resume:%Y-%m-%d} 00:00 UTC")

    def refund(self) -> None:
        """The admitted request was not billed (no answer, or a 5xx)."""
        with self._lock:
            self.requests = max(0, self.requests - 1)

    def state(self) -> dict[str, Any]:
        """For the heartbeat and /healthz."""
        paused = self.paused()
        return {"billable_month": self.requests, "limit": self.limit, "paused": paused,
                "resume_at": next_month(self._now()).isoformat() if paused else None}

    def cost(self, price: float) -> float:
        return self.requests * price


def next_month(at: datetime) -> datetime:
    """The start of the UTC month after ``at``."""
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def request_cap(settings: Settings) -> int | None:
    """Billable requests a month allowed by ``COLLECTOR_API_BUDGET`` (after the credit), or
    None without a budget."""
    api = settings.api
    if api.budget is None or api.price_data <= 0:
        return None
    return int(math.floor((api.budget + api.monthly_credit) / api.price_data + 1e-9))
