"""The provisioned alert rules: the file parses and is what the generator makes, and every
rule's query runs against the real influxd and, evaluated with the rule's own reduce and
threshold from the file, fires on crafted data that should fire it and stays quiet otherwise."""

from __future__ import annotations

import operator
import re
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


def info(seconds_ago: int, **fields: str) -> str:
    body = ",".join(f"{k}={v}" for k, v in fields.items())
    return f"site_info,site_id=1,site_name=Home {body} {int(time.time()) - seconds_ago}"


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
        "tesla-settings-changed": (
            [info(1800, settings_changed_outside="1i"), info(60, settings_changed_outside="0i")],
            [info(600, settings_changed_outside="0i"), info(7200, settings_changed_outside="2i")]),
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


# Grafana's provisioning expands environment variables in the values it reads ("$NAME",
# "${NAME}"; "$$" is a literal "$"), except in the raw fields: a query's ``model`` (since
# Grafana 9.1.2, grafana/grafana#54293) and the annotations (#54975). Go's os.ExpandEnv names:
_GO_VAR = re.compile(r"\$(\{[^}]*\}|[A-Za-z0-9_]+|[*#$@!?\-0-9])")
RAW_KEYS = {"model", "annotations"}


def grafana_expand(value: str, env: dict[str, str]) -> str:
    def one(part: str) -> str:
        return _GO_VAR.sub(lambda m: env.get(m[1].strip("{}"), ""), part)

    return "$".join(one(part) for part in value.split("$$"))


def provisioned(node, env: dict[str, str], key: str = ""):
    """The document as Grafana stores it: every string value expanded but the raw fields."""
    if key in RAW_KEYS:
        return node
    if isinstance(node, dict):
        return {k: provisioned(v, env, k) for k, v in node.items()}
    if isinstance(node, list):
        return [provisioned(v, env) for v in node]
    return grafana_expand(node, env) if isinstance(node, str) else node


def test_grafana_env_expansion_leaves_the_queries_and_summaries_intact():
    """``$timeFilter`` is written as is (``$$timeFilter`` would reach InfluxDB verbatim, since
    the model is not expanded); no expanded field holds a ``$`` at all."""
    document = yaml.safe_load(FILE.read_text())
    hostile = {"timeFilter": "BROKEN", "labels": "BROKEN", "values": "BROKEN"}
    assert provisioned(document, hostile) == provisioned(document, {}) == document
    for rule in rules().values():
        query = rule["data"][0]["model"]["query"]
        assert "$timeFilter" in query and "$$" not in query
        assert set(re.findall(r"\$(\w+)", query)) <= {"timeFilter", "__interval",
                                                       "__interval_ms", "interval"}
    assert grafana_expand("a $$timeFilter $X ${X}", {"X": "x"}) == "a $timeFilter x x"
