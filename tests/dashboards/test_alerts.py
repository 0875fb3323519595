"""The provisioned alert rules: the file parses and is what the generator makes, and every
rule's query runs against the real influxd and, evaluated with the rule's own reduce and
threshold from the file, fires on crafted data that should fire it and stays quiet otherwise."""

from __future__ import annotations

import operator
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FILE = ROOT / "grafana" / "provisioning" / "alerting" / "tesla-energy-alerts.yaml"
COMPARE = {"gt": operator.gt, "lt": operator.lt}


def rules() -> dict[str, dict]:
    document = yaml.safe_load(FILE.read_text())
    assert document["apiVersion"] == 1 and len(document["groups"]) == 1
    group = document["groups"][0]
    assert group["folder"] == "Tesla Energy"
    return {rule["uid"]: rule for rule in group["rules"]}


def test_the_file_is_the_generator_output_and_every_rule_is_complete():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_alerts", ROOT / "grafana" /
                                                  "build_alerts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert FILE.read_text() == module.render()
    for rule in rules().values():
        refs = {q["refId"]: q for q in rule["data"]}
        assert rule["condition"] == "C" and set(refs) == {"A", "B", "C"}
        assert refs["A"]["datasourceUid"] == "tesla-influxdb"
        assert refs["B"]["model"]["expression"] == "A"
        assert refs["C"]["model"]["expression"] == "B"


def evaluate(influxd, db: str, rule: dict) -> bool:
    """Grafana's evaluation of the rule: query A over its window, B = last value per series
    (NaN/null dropped), C = threshold; no series at all = the rule's noDataState."""
    refs = {q["refId"]: q for q in rule["data"]}
    window = refs["A"]["relativeTimeRange"]["from"]
    query = refs["A"]["model"]["query"].replace("$timeFilter", f"time > now() - {window}s")
    assert refs["B"]["model"]["reducer"] == "last"
    rows = influxd.query(query, db=db)
    values: dict[tuple, float] = {}
    for row in rows:  # rows come in time order within each series
        key = tuple(sorted((k, v) for k, v in row.items() if k not in ("time",)
                           and not isinstance(v, int | float)))
        value = next(v for k, v in row.items() if k != "time" and isinstance(v, int | float))
        if value is not None:
            values[key] = value
    if not values:
        return rule["noDataState"] == "Alerting"
    evaluator = refs["C"]["model"]["conditions"][0]["evaluator"]
    compare, threshold = COMPARE[evaluator["type"]], evaluator["params"][0]
    return any(compare(v, threshold) for v in values.values())


def live(seconds_ago: int, **fields: str) -> str:
    body = ",".join(f"{k}={v}" for k, v in fields.items())
    return f"live_status,site_id=1,site_name=Home {body} {int(time.time()) - seconds_ago}"


def collector(seconds_ago: int, endpoint: str, **fields: int) -> str:
    body = ",".join(f"{k}={v}i" for k, v in fields.items())
    return f"collector,job=live,endpoint={endpoint} {body} {int(time.time()) - seconds_ago}"


def cases() -> dict[str, tuple[list[str], list[str]]]:
    """Crafted data per rule (firing, quiet), stamped relative to now when called."""
    return {
        "tesla-grid-down": (
            [live(30, grid_status='"Inactive"', load_power="900")],
            [live(30, grid_status='"Active"', load_power="900"),
             live(600, grid_status='"Inactive"', load_power="900")]),
        "tesla-battery-low": (
            [live(300, percentage_charged="40"), live(20, percentage_charged="15.5")],
            [live(300, percentage_charged="15"), live(20, percentage_charged="35")]),
        "tesla-collector-stale": (
            [live(1200, load_power="900")], [live(60, load_power="900")]),
        "tesla-spool-growing": (
            [collector(60, "influxdb", spool_points=1200)],
            [collector(600, "influxdb", spool_points=1200), collector(60, "influxdb",
                                                                      spool_points=0)]),
        "tesla-api-errors": (
            [collector(600, "live_status", errors=6), collector(60, "site_info", errors=5)],
            [collector(600, "live_status", errors=6), collector(1200, "live_status", errors=50)]),
        "tesla-storm-watch": (
            [live(60, storm_mode_active="true")], [live(60, storm_mode_active="false"),
                                                   live(900, storm_mode_active="true")]),
        "tesla-tariff-changed": (
            [f'tariff_version,site_id=1,source=site_info sha256="ab" {int(time.time()) - 600}'],
            [f'tariff_version,site_id=1,source=file sha256="ab" {int(time.time()) - 600}',
             f'tariff_version,site_id=1,source=site_info sha256="ab" {int(time.time()) - 7200}']),
    }


def test_every_rule_has_crafted_cases():
    assert set(cases()) == set(rules())


@pytest.mark.parametrize("uid", sorted(rules()))
@pytest.mark.parametrize("should_fire", [True, False], ids=["fires", "quiet"])
def test_rule_fires_on_its_data_and_stays_quiet_otherwise(uid, should_fire, influxd,
                                                          influx_db):
    firing, quiet = cases()[uid]
    influxd.write_lines(influx_db, firing if should_fire else quiet)
    assert evaluate(influxd, influx_db, rules()[uid]) is should_fire
