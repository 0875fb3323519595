"""Valid tariffs pass, and parsing follows the API's conventions (omitted zeros, envelopes)."""

from __future__ import annotations

import pytest

from collector.sim.tariff import default_tariff
from collector.tariff import TariffFormatError, load_tariff, unwrap
from tests.tariff.support import doc, messages, problems


@pytest.mark.parametrize("name", ["flat", "three_season"])
def test_fixture_tariffs_have_no_problem(name):
    assert problems(doc(name)) == []


def test_wrap_year_tariff_is_valid_with_only_the_label_warning():
    found = problems(doc("wrap_year"))
    assert [p.level for p in found] == ["warning"]
    assert "PEAK_FREE" in found[0].message and "not shown by the Tesla app" in found[0].message


def test_flat_tariff_prices_its_one_period_through_all():
    tariff = load_tariff(doc("flat"))
    assert tariff.buy.seasons["Year"].labels == ("OFF_PEAK",)
    assert tariff.buy.price("Year", "OFF_PEAK") == pytest.approx(0.30)
    assert tariff.sell.price("Year", "OFF_PEAK") == pytest.approx(0.05)


def test_omitted_zero_fields_default_to_zero():
    span = load_tariff(doc("three_season")).buy.seasons["Autumn"].periods["OFF_PEAK"][0]
    assert (span.from_day, span.to_day, span.from_hour, span.from_minute) == (0, 6, 20, 0)
    assert (span.to_hour, span.to_minute) == (17, 0)


def test_omitted_season_days_mean_whole_months():
    """The simulator's own default tariff omits fromDay/toDay: it must still be valid."""
    assert messages(default_tariff(), "error") == []


def test_real_shape_with_empty_season_object_and_to_hour_24():
    """The shape of TFA's tariff_moorinya_v2 fixture: "Winter": {} and toHour 24."""
    periods = {f"P{h:02d}": {"periods": [{"toDayOfWeek": 6, "fromHour": h, "toHour": h + 1}]}
               for h in range(24)}
    content = {"currency": "USD", "seasons": {"Summer": {"fromMonth": 1, "toMonth": 12,
               "fromDay": 1, "toDay": 31, "tou_periods": periods}, "Winter": {}},
               "energy_charges": {"ALL": {"rates": {"ALL": 0}}, "Summer": {"rates": {
                   label: 0.2 for label in periods}}, "Winter": {}}}
    found = problems({"response": {"tariff_content_v2": content}})
    assert [p.level for p in found] == ["warning", "warning"]
    assert "season Winter has no dates and no periods; it is ignored" in found[0].message


@pytest.mark.parametrize("wrap", [
    lambda c: c,
    lambda c: {"tariff_content_v2": c},
    lambda c: {"tou_settings": {"tariff_content_v2": c}},
    lambda c: {"response": {"tou_settings": {"tariff_content_v2": c}}},
])
def test_unwrap_accepts_the_known_envelopes(wrap):
    content = doc("flat")
    assert unwrap(wrap(content)) is content


@pytest.mark.parametrize(("document", "needle"), [
    ([], "must be a JSON object"),
    ({"name": "x"}, "has no 'seasons'"),
    ({"seasons": []}, "seasons must be a JSON object, not a list"),
    ({"seasons": {"S": {"fromMonth": "1"}}}, "seasons.S.fromMonth must be a whole number"),
    ({"seasons": {"S": {"tou_periods": {"P": {"periods": {}}}}}}, "periods must be a list"),
    ({"seasons": {}, "energy_charges": {"S": {"rates": {"P": "0.1"}}}},
     "energy_charges.S.rates.P must be a number"),
    ({"seasons": {}, "currency": 5}, "currency must be a string"),
])
def test_malformed_structure_is_one_clear_error(document, needle):
    with pytest.raises(TariffFormatError) as caught:
        load_tariff(document)
    assert needle in str(caught.value)
    assert "\n" not in str(caught.value)
