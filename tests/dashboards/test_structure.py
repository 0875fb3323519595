"""Structural checks of the bundled dashboards and Grafana provisioning (no Grafana needed)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.dashboards.panels import (
    DASHBOARD_DIR,
    PROVIDER_FILE,
    Query,
    all_queries,
    dashboard_files,
    datasource_uid,
    defined_variables,
    load_dashboards,
    load_generator,
    load_yaml,
    panels,
    queries,
    query_problems,
    schema_columns,
    used_variables,
)

EXPECTED = {"overview.json", "energy.json", "outages.json", "battery-health.json",
            "wall-connector.json", "settings-history.json", "collector-health.json", "cost.json"}


def test_every_dashboard_is_there_and_tidy_json() -> None:
    files = dashboard_files()
    assert {p.name for p in files} == EXPECTED
    for path in files:
        text = path.read_text()
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n", path.name


def test_committed_dashboards_equal_generator_output() -> None:
    rendered = load_generator().render_all()
    assert set(rendered) == EXPECTED
    for name, text in rendered.items():
        assert (DASHBOARD_DIR / name).read_text() == text, (
            f"{name} is out of date: run python grafana/build_dashboards.py")


def test_generator_check_mode_detects_stale_files(tmp_path, monkeypatch) -> None:
    generator = load_generator()
    monkeypatch.setattr(generator, "OUT_DIR", tmp_path)
    assert generator.main([]) == 0
    assert generator.main(["--check"]) == 0
    (tmp_path / "energy.json").write_text("{}\n")
    assert generator.main(["--check"]) == 1


def test_stable_unique_uids_and_no_numeric_ids() -> None:
    boards = load_dashboards()
    uids = [board["uid"] for board in boards.values()]
    assert len(set(uids)) == len(uids), uids
    for name, board in boards.items():
        assert board["uid"].startswith("tesla-"), name
        assert "id" not in board, f"{name} has a numeric dashboard id"
        ids = Counter(panel["id"] for panel in panels(board))
        assert [i for i, n in ids.items() if n > 1] == [], f"{name}: duplicate panel ids"


def test_everything_uses_the_provisioned_datasource() -> None:
    uid = datasource_uid()
    for name, board in load_dashboards().items():
        for panel in panels(board):
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "influxdb", "uid": uid}, (name, panel["id"])
            assert panel["targets"], f"{name}: panel {panel['id']} has no query"
            for item in panel["targets"]:
                assert item["datasource"]["uid"] == uid, (name, panel["id"])
                assert item["rawQuery"] is True, (name, panel["id"])
        others = board["annotations"]["list"] + [v for v in board["templating"]["list"]
                                                  if v["type"] == "query"]
        for item in others:
            assert item["datasource"]["uid"] == uid, (name, item["name"])


def test_panels_fit_the_grid_without_overlap() -> None:
    for name, board in load_dashboards().items():
        cells: set[tuple[int, int]] = set()
        for panel in panels(board):
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, (name, panel["id"])
            mine = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"])
                    for y in range(pos["y"], pos["y"] + pos["h"])}
            assert not cells & mine, f"{name}: panel {panel['id']} overlaps another"
            cells |= mine


def test_site_variables_choose_by_name_and_filter_by_id() -> None:
    for name, board in load_dashboards().items():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        if "site" not in variables:
            assert all("$site" not in q.text for q in queries(name, board))
            continue
        chooser, ids = variables["site_name"], variables["site"]
        assert chooser["query"] == 'SHOW TAG VALUES FROM "site_info" WITH KEY = "site_name"'
        assert chooser["multi"] and chooser["includeAll"] and chooser["hide"] == 0
        assert ids["query"] == ('SHOW TAG VALUES FROM "site_info" WITH KEY = "site_id" '
                                'WHERE "site_name" =~ /^$site_name$/')
        assert ids["hide"] == 2 and ids["includeAll"] and ids["current"]["value"] == "$__all"
        for query in queries(name, board):
            if "$site" in query.text and not query.variable:
                assert '"site_id" =~ /^$site$/' in query.text, query


def test_every_day_panel_uses_the_site_zone_variable_and_names_it() -> None:
    for name, board in load_dashboards().items():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        day_panels = [p for p in panels(board)
                      if any("time(1d)" in t["query"] for t in p.get("targets", []))]
        if not day_panels:
            continue
        tz = variables.get("tz")
        assert tz is not None, f"{name} groups by day without a $tz variable"
        assert tz["type"] == "query" and not tz["multi"] and tz["allowCustomValue"]
        assert tz["query"] == ('SHOW TAG VALUES FROM "site_info" WITH KEY = "time_zone" '
                               'WHERE "site_id" =~ /^$site$/')
        for panel in day_panels:
            assert "$tz" in panel["title"], (name, panel["title"])


def test_generator_refuses_a_day_panel_without_the_zone_variable() -> None:
    generator = load_generator()
    board = generator.Dashboard(
        uid="x", title="x", description="x", variables=generator.site_variables(),
        rows=[[(24, 8, generator.timeseries("Solar per day", [generator.target(
            generator.energy_query(generator.SOLAR))]))]])
    with pytest.raises(ValueError, match="no \\$tz variable"):
        board.render()


@pytest.mark.parametrize("query", all_queries(), ids=str)
def test_raw_influxql_is_well_formed(query: Query) -> None:
    board = load_dashboards()[query.dashboard]
    assert query_problems(query, defined_variables(board), schema_columns()) == []


def test_aliases_use_only_defined_or_series_variables() -> None:
    for name, board in load_dashboards().items():
        for panel in panels(board):
            for item in panel.get("targets", []):
                extra = used_variables(item.get("alias", "")) - {"col", "m", "measurement"}
                assert all(v.startswith("tag_") for v in extra), (name, panel["id"], extra)


def test_day_and_month_buckets_follow_the_site_zone() -> None:
    for query in all_queries():
        if "time(1d)" in query.text:
            assert query.text.endswith("tz('$tz')"), query
        assert "time(30d)" not in query.text and "time(4w)" not in query.text, query


@pytest.mark.parametrize("bad, problem", [
    ('SELECT mean("solar_power") FROM "live_status" WHERE "site_id" =~ /^$site$/',
     "no $timeFilter"),
    ('SELECT "solar_power" FROM "live_status" WHERE $timeFilter GROUP BY time($__interval)',
     "GROUP BY time without an aggregate"),
    ('SELECT mean("solar_power") FROM "live_status" WHERE $timeFilter AND "x" = \'$nope\' '
     'GROUP BY time($__interval)', "undefined variables ['nope']"),
    ('SELECT mean("solar_powr") FROM "live_status" WHERE $timeFilter GROUP BY time(1m)',
     "not in the live_status schema: ['solar_powr']"),
    ('SELECT mean("a") FROM "no_such" WHERE $timeFilter', "unknown measurement 'no_such'"),
])
def test_the_checker_catches_bad_queries(bad: str, problem: str) -> None:
    problems = query_problems(Query("x.json", "panel", bad), {"site"}, schema_columns())
    assert problem in problems


def test_datasource_provisioning() -> None:
    config = load_yaml(PROVIDER_FILE.parents[1] / "datasources" / "influxdb.yaml")
    assert config["apiVersion"] == 1
    (source,) = config["datasources"]
    assert source["type"] == "influxdb" and source["uid"] == "tesla-influxdb"
    assert source["url"] == "${INFLUX_URL}"
    assert source["editable"] is False
    data = source["jsonData"]
    assert data["dbName"] == "${INFLUX_BUCKET}"
    assert data["httpMode"] == "POST"
    assert data["timeInterval"] == "10s"  # the default COLLECTOR_LIVE_INTERVAL
    assert data["httpHeaderName1"] == "Authorization"
    assert source["secureJsonData"]["httpHeaderValue1"] == "Token ${INFLUX_TOKEN}"
    assert "version" not in data and "organization" not in data  # InfluxQL, not Flux


def test_live_cadence_matches_the_datasource_min_interval() -> None:
    from collector.config import IntervalSettings

    assert IntervalSettings().live_seconds == 10.0


def test_dashboard_provider() -> None:
    config = load_yaml(PROVIDER_FILE)
    assert config["apiVersion"] == 1
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["folder"] == "Tesla Energy"
    assert provider["options"]["path"] == "/etc/grafana/dashboards"
