"""Where a site keeps its tariff (v2 top level, tou_settings, v1 ``tariff_content``), whole
numbers as floats, and the seed's pricing rule: a season's own entry prices it, or nothing."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from collector.tariff import (
    TariffFormatError,
    errors,
    load_tariff,
    price_at,
    site_tariff_content,
    v1_to_v2,
    validate,
)
from tests.tariff.support import problems

WEEK = [{"toDayOfWeek": 6, "fromHour": 16, "toHour": 21}]
REST = [{"toDayOfWeek": 6, "fromHour": 21, "toHour": 16}]
V2 = {"code": "PGE-E-ELEC", "name": "Residential TOU", "utility": "PG&E", "currency": "USD",
      "version": 1,
      "energy_charges": {"ALL": {"rates": {"ALL": 0}},
                         "Summer": {"rates": {"ON_PEAK": 0.57908, "OFF_PEAK": 0.36052}}},
      "seasons": {"Summer": {"fromMonth": 1, "toMonth": 12,
                             "tou_periods": {"ON_PEAK": {"periods": WEEK},
                                             "OFF_PEAK": {"periods": REST}}}}}
#: The same tariff in the v1 shape (site_info ``tariff_content``): no ``rates``/``periods``.
V1 = {"code": "PGE-E-ELEC", "name": "Residential TOU", "utility": "PG&E", "currency": "USD",
      "demand_charges": {"ALL": {"ALL": 0}},
      "energy_charges": {"ALL": {"ALL": 0},
                         "Summer": {"ON_PEAK": 0.57908, "OFF_PEAK": 0.36052}},
      "seasons": {"Summer": {"fromMonth": 1, "toMonth": 12,
                             "tou_periods": {"ON_PEAK": WEEK, "OFF_PEAK": REST}},
                  "Winter": {"fromDay": 0, "toDay": 0, "fromMonth": 0, "toMonth": 0,
                             "tou_periods": {}}}}
AT = pd.DatetimeIndex([pd.Timestamp("2024-07-01 17:00", tz="America/Los_Angeles"),
                       pd.Timestamp("2024-07-01 03:00", tz="America/Los_Angeles")])


def prices(content: dict) -> list[float]:
    return list(price_at(load_tariff(content), AT.tz_convert("UTC"), "America/Los_Angeles")["buy"])


@pytest.mark.parametrize("info", [
    {"tariff_content_v2": V2},
    {"tou_settings": {"optimization_strategy": "economics", "tariff_content_v2": V2}},
    {"tariff_content_v2": V2, "tariff_content": {"code": "OLD"}, "tariff_id": "OLD"},
])
def test_v2_is_read_from_the_top_level_or_tou_settings_and_preferred(info):
    assert site_tariff_content(info) is V2


def test_v1_tariff_content_is_converted_to_v2_for_display_and_pricing():
    content = site_tariff_content({"tariff_id": "PGE-E-ELEC-NEM3", "tariff_content": V1})
    assert content is not None
    assert content["energy_charges"]["Summer"] == {"rates": {"ON_PEAK": 0.57908,
                                                             "OFF_PEAK": 0.36052}}
    assert content["seasons"]["Summer"]["tou_periods"]["ON_PEAK"] == {"periods": WEEK}
    found = validate(load_tariff(content))
    assert errors(found) == []
    assert [p.message for p in found] == ["season Winter has no dates and no periods; it is "
                                          "ignored"]
    assert prices(content) == pytest.approx([0.57908, 0.36052])
    assert v1_to_v2(content) == content  # converting a v2 shape changes nothing
    assert V1["energy_charges"]["Summer"] == {"ON_PEAK": 0.57908, "OFF_PEAK": 0.36052}


@pytest.mark.parametrize("info", [
    {}, {"tariff_id": "SCE-TOU-PRIME", "tariff_content": {}},
    {"tou_settings": {"optimization_strategy": "economics", "schedule": []}},
    {"tariff_content": {"code": "PREDBAT"}}, "not an object",
])
def test_no_tariff(info):
    assert site_tariff_content(info) is None


def test_a_season_entry_missing_a_period_price_leaves_it_unpriced():
    """The season has its own entry without OFF_PEAK and no ALL of its own: the top-level
    ALL (0) does not price it; the tariff is invalid (the seed: every period with time
    periods has a price) and the period prices as NaN, never as 0."""
    content = copy.deepcopy(V2)
    del content["energy_charges"]["Summer"]["rates"]["OFF_PEAK"]
    assert [p.message for p in problems(content)] == [
        "energy_charges: season Summer, period OFF_PEAK has time periods but no price"]
    buy = prices(content)
    assert buy[0] == pytest.approx(0.57908) and np.isnan(buy[1])


def test_the_season_entrys_own_all_prices_its_other_periods():
    content = copy.deepcopy(V2)
    content["energy_charges"]["Summer"]["rates"] = {"ON_PEAK": 0.5, "ALL": 0.25}
    assert problems(content) == []
    assert prices(content) == pytest.approx([0.5, 0.25])


@pytest.mark.parametrize("entry", [None, {}])
def test_a_season_without_an_entry_of_its_own_takes_the_all_entry(entry):
    content = copy.deepcopy(V2)
    content["energy_charges"]["ALL"] = {"rates": {"ALL": 0.3}}
    if entry is None:
        del content["energy_charges"]["Summer"]
    else:
        content["energy_charges"]["Summer"] = entry  # "Summer": {} as in real tariffs
    assert problems(content) == []
    assert prices(content) == pytest.approx([0.3, 0.3])


def test_whole_numbers_may_be_floats_but_fractions_are_refused():
    content = copy.deepcopy(V2)
    content["seasons"]["Summer"]["toMonth"] = 12.0
    content["seasons"]["Summer"]["tou_periods"]["ON_PEAK"]["periods"] = [
        {"toDayOfWeek": 6.0, "fromHour": 16.0, "toHour": 21}]
    assert problems(content) == []
    assert prices(content) == pytest.approx([0.57908, 0.36052])
    content["seasons"]["Summer"]["toMonth"] = 11.5
    with pytest.raises(TariffFormatError, match="toMonth must be a whole number"):
        load_tariff(content)
