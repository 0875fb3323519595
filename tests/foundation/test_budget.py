"""The Fleet API bill: requests per day by endpoint, the projected cost after the credit, the
budget plan (figures computed by hand), ``tesla-energy budget`` and the daemon applying it."""

from __future__ import annotations

import pytest

from collector import budget
from collector.cli import main
from collector.config import IntervalSettings, load_settings

BASE = {"TESLA_API_URL": "http://127.0.0.1:9"}


def settings(**env: str):
    return load_settings(environ={**BASE, **env})


def test_the_default_intervals_cost_by_hand():
    bill = budget.bill(1, settings())
    # live every 10 s, site_info every 300 s, 4 history requests every 900 s
    assert bill.per_day == {"live_status": 8640.0, "site_info": 288.0, "history": 384.0}
    assert bill.monthly_requests() == 9312 * 31
    assert bill.gross() == pytest.approx(9312 * 31 * 0.002)  # 577.344
    assert bill.after_credit() == pytest.approx(577.344 - 10)


def test_a_10_usd_budget_for_one_site_stretches_live_then_site_info_then_history():
    chosen = budget.plan(1, settings(COLLECTOR_API_BUDGET="10"))
    # allowed: (10 + 10 credit) / 0.002 / 32 planned days = 312.5 requests/day. Live at its
    # longest (3600 s: 24/day) plus history at 900 s (384/day) is already over, so site_info
    # goes to its longest (86400 s: 1/day) and history gets the rest: 4 * 86400 / (312.5 - 25)
    # = 1202.1 -> 1203 s.
    assert chosen == IntervalSettings(3600.0, 86400.0, 1203.0)
    month = budget.bill(1, settings(), chosen)
    assert month.monthly_requests() == pytest.approx((24 + 1 + 4 * 86400 / 1203) * 31)
    assert month.monthly_requests() <= 10_000 and month.after_credit() <= 10.0


def test_a_budget_that_fits_only_stretches_live_polling():
    chosen = budget.plan(1, settings(COLLECTOR_API_BUDGET="20"))
    # (20 + 10) / 0.002 / 32 = 468.75/day; site_info 288 + history 384 = 672 > 468.75, so
    # live goes to 3600 s and site_info takes 468.75 - 24 - 384 = 60.75/day -> 1423 s.
    assert chosen == IntervalSettings(3600.0, 1423.0, 900.0)
    roomy = budget.plan(1, settings(COLLECTOR_API_BUDGET="200"))
    # (200 + 10) / 0.002 / 32 = 3281.25/day; live gets 3281.25 - 672 = 2609.25 -> 34 s
    assert roomy == IntervalSettings(34.0, 300.0, 900.0)
    assert budget.plan(1, settings()) == settings().intervals  # no budget: unchanged


def test_a_simulated_month_of_planned_requests_stays_within_the_budget():
    """Every request the planned schedule makes in 31 days, counted tick by tick."""
    chosen = budget.plan(1, settings(COLLECTOR_API_BUDGET="10"))
    seconds = 31 * 86400
    requests = (seconds // chosen.live_seconds + seconds // chosen.site_info_seconds
                + 4 * (seconds // chosen.history_seconds))
    assert requests * 0.002 - 10 <= 10


def test_a_budget_too_small_is_one_line_and_exit_2(capsys, monkeypatch):
    monkeypatch.setenv("TESLA_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("COLLECTOR_API_BUDGET", "0")
    monkeypatch.setenv("COLLECTOR_API_MONTHLY_CREDIT", "0")
    assert main(["budget", "--sites", "3"]) == 2
    err = capsys.readouterr().err
    assert "COLLECTOR_API_BUDGET 0 USD is too small for 3 site(s)" in err
    assert len(err.strip().splitlines()) == 1


def test_budget_prints_the_plan(capsys, monkeypatch):
    monkeypatch.setenv("TESLA_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("COLLECTOR_API_BUDGET", "10")
    monkeypatch.delenv("TESLA_SITE_IDS", raising=False)
    assert main(["budget", "--sites", "1"]) == 0
    out = capsys.readouterr().out
    assert "1 site(s) at live 3600 s, site_info 86400 s, history 1203 s:" in out
    assert "history           287.3 requests/day" in out
    assert "budget: 10 USD a month after the credit (within)" in out
    assert "stretched to fit" in out


def test_bad_budget_settings_exit_2(capsys, monkeypatch):
    monkeypatch.setenv("TESLA_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("COLLECTOR_API_BUDGET", "lots")
    assert main(["budget"]) == 2
    assert "COLLECTOR_API_BUDGET" in capsys.readouterr().err
    monkeypatch.delenv("COLLECTOR_API_BUDGET")
    with pytest.raises(SystemExit) as exited:
        main(["budget", "--sites", "0"])
    assert exited.value.code == 2


def test_month_to_date_counts_reset_with_the_utc_month():
    from datetime import UTC, datetime

    meter = budget.MonthToDate()
    assert meter.add(3, datetime(2024, 5, 31, 23, 59, tzinfo=UTC)) == 3
    assert meter.add(2, datetime(2024, 5, 31, 23, 59, 30, tzinfo=UTC)) == 5
    assert meter.cost(0.002) == pytest.approx(0.01)
    assert meter.add(4, datetime(2024, 6, 1, tzinfo=UTC)) == 4
