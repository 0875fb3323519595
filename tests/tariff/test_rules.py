"""Each validation rule of the seed, broken alone (everything else stays valid)."""

from __future__ import annotations

import pytest

from tests.tariff.support import doc, messages, problems

SUMMER = ("seasons", "Summer", "tou_periods")


def _periods(document, season, label):
    return document["seasons"][season]["tou_periods"][label]["periods"]


def _only_error(document) -> str:
    found = messages(document, "error")
    assert len(found) == 1, found
    return found[0]


def test_at_least_one_season():
    document = doc("flat")
    document["seasons"] = {}
    document["energy_charges"] = {}
    document["sell_tariff"]["energy_charges"] = {}
    assert _only_error(document) == "seasons: at least one season is required"


def test_overlapping_periods_name_season_days_time_and_periods():
    document = doc("three_season")
    _periods(document, "Summer", "PARTIAL_PEAK")[0]["toHour"] = 21  # 15:00-21:00 on weekdays
    assert _only_error(document) == (
        "season Summer: Monday-Friday 16:00-21:00 covered by ON_PEAK and PARTIAL_PEAK")


def test_a_period_overlapping_itself_is_reported():
    document = doc("three_season")
    _periods(document, "Autumn", "OFF_PEAK").append({"fromDayOfWeek": 2, "toDayOfWeek": 2,
                                                     "fromHour": 1, "toHour": 2})
    assert _only_error(document) == "season Autumn: Wednesday 01:00-02:00 covered more than " \
                                    "once by OFF_PEAK"


def test_gap_in_periods_names_season_days_and_time():
    document = doc("three_season")
    del _periods(document, "Summer", "OFF_PEAK")[1]  # weekend 00:00-16:00
    assert _only_error(document) == (
        "season Summer: Saturday-Sunday 00:00-16:00 not covered by any period")


def test_weekday_span_running_past_midnight_into_the_weekend():
    """Friday 20:30 -> Saturday 17:30 overlaps the weekend, and Monday morning is a gap."""
    document = doc("wrap_year")
    _periods(document, "Summer", "PEAK_FREE")[:2] = [
        {"toDayOfWeek": 4, "fromHour": 20, "fromMinute": 30, "toHour": 17, "toMinute": 30}]
    assert messages(document, "error") == [
        "season Summer: Monday 00:00-17:30 not covered by any period",
        "season Summer: Saturday 00:00-17:30 covered more than once by PEAK_FREE",
    ]


def test_season_without_time_periods():
    document = doc("flat")
    del document["seasons"]["Year"]["tou_periods"]
    assert _only_error(document).startswith("season Year: has no time periods (tou_periods)")


def test_out_of_range_time_names_season_period_and_entry():
    document = doc("three_season")
    _periods(document, "Winter", "ON_PEAK")[0]["fromHour"] = 25
    assert _only_error(document) == (
        "season Winter, period ON_PEAK, periods[0]: fromHour 25 is outside 0-23")


def test_overlapping_seasons_name_both_and_the_dates():
    document = doc("three_season")
    document["seasons"]["Summer"]["toMonth"] = 10
    document["seasons"]["Summer"]["toDay"] = 15
    assert _only_error(document) == "seasons Summer and Autumn overlap on Oct 1 - Oct 15"


def test_gap_between_seasons_names_the_dates():
    document = doc("three_season")
    document["seasons"]["Summer"]["toDay"] = 15  # Sep 15
    assert _only_error(document) == "no season covers Sep 16 - Sep 30"


def test_gap_across_the_year_end_in_a_wrapping_season():
    document = doc("wrap_year")
    document["seasons"]["Winter"]["fromDay"] = 2  # Nov 2 .. Mar 31
    assert _only_error(document) == "no season covers Nov 1"


def test_day_that_does_not_exist():
    document = doc("three_season")
    document["seasons"]["Summer"]["toDay"] = 31  # September has 30 days
    assert _only_error(document) == "season Summer: toDay 31 does not exist in September"


def test_leap_day_joins_the_season_of_february_28_with_a_warning():
    document = doc("wrap_year")
    document["seasons"]["Winter"].update(toMonth=2, toDay=28)
    document["seasons"]["Summer"].update(fromMonth=3, fromDay=1)
    assert messages(document, "error") == []
    assert any("Feb 29" in m and "season Winter" in m for m in messages(document, "warning"))


def test_a_season_naming_feb_29_needs_no_warning():
    document = doc("wrap_year")
    document["seasons"]["Winter"].update(toMonth=2, toDay=29)
    document["seasons"]["Summer"].update(fromMonth=3, fromDay=1)
    assert not [m for m in messages(document, "warning") if "Feb 29" in m]
    assert messages(document, "error") == []


def test_prices_for_a_period_without_time_periods():
    document = doc("three_season")
    document["energy_charges"]["Summer"]["rates"]["SUPER_OFF_PEAK"] = 0.1
    assert _only_error(document) == (
        "energy_charges: season Summer has a price for period SUPER_OFF_PEAK, which has no "
        "time periods")


def test_prices_for_a_season_that_does_not_exist():
    document = doc("three_season")
    document["energy_charges"]["Spring"] = {"rates": {"ON_PEAK": 0.1}}
    assert "prices for season Spring" in _only_error(document)


def test_time_periods_without_a_price():
    document = doc("three_season")
    del document["energy_charges"]["Winter"]["rates"]["SUPER_OFF_PEAK"]
    assert _only_error(document) == (
        "energy_charges: season Winter, period SUPER_OFF_PEAK has time periods but no price")


def test_all_price_covers_every_period_of_its_season():
    document = doc("three_season")
    document["energy_charges"]["Winter"]["rates"] = {"ALL": 0.3, "ON_PEAK": 0.45}
    assert problems(document) == []


@pytest.mark.parametrize("currency", ["AUD", "usd", ""])
def test_currency_must_be_usd_eur_or_gbp(currency):
    document = doc("flat")
    document["currency"] = currency
    assert _only_error(document).startswith("currency is ")
    assert "USD, EUR and GBP" in _only_error(document)


def test_negative_price_is_a_warning_saying_tesla_rounds_to_zero():
    document = doc("three_season")
    document["sell_tariff"]["energy_charges"]["Summer"]["rates"]["ON_PEAK"] = -0.02
    found = problems(document)
    assert [p.level for p in found] == ["warning"]
    assert found[0].message == ("sell_tariff.energy_charges: season Summer, period ON_PEAK: "
                                "price -0.02 is negative; Tesla will round it to 0")


def test_negative_buy_price_warns_about_both_tesla_adjustments():
    document = doc("three_season")
    document["energy_charges"]["Winter"]["rates"]["SUPER_OFF_PEAK"] = -0.02
    found = messages(document, "warning")
    assert messages(document, "error") == []
    assert "energy_charges: season Winter, period SUPER_OFF_PEAK: price -0.02 is negative; " \
           "Tesla will round it to 0" in found
    assert any("buy price -0.02 is below the sell price 0.05" in m for m in found)


def test_buy_below_sell_is_a_warning_saying_tesla_raises_buy():
    document = doc("three_season")
    document["sell_tariff"]["energy_charges"]["Summer"]["rates"]["ON_PEAK"] = 0.60
    found = problems(document)
    assert [p.message for p in found] == [
        "season Summer, period ON_PEAK: buy price 0.55 is below the sell price 0.6; "
        "Tesla will raise the buy price to 0.6"]
    assert found[0].level == "warning"


def test_label_not_shown_by_the_app_is_a_warning():
    document = doc("three_season")
    autumn = document["seasons"]["Autumn"]["tou_periods"]
    autumn["EVENING"] = autumn.pop("ON_PEAK")
    document["energy_charges"]["Autumn"]["rates"]["EVENING"] = 0.5
    del document["energy_charges"]["Autumn"]["rates"]["ON_PEAK"]
    found = problems(document)
    assert [p.level for p in found] == ["warning"]
    assert found[0].message.startswith("period labels EVENING are not shown by the Tesla app")


def test_all_problems_are_listed_at_once():
    document = doc("three_season")
    document["currency"] = "AUD"
    _periods(document, "Summer", "PARTIAL_PEAK")[0]["toHour"] = 21
    document["seasons"]["Summer"]["toDay"] = 15
    assert len(messages(document, "error")) == 3
