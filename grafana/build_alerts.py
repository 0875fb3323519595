"""Generate grafana/provisioning/alerting/tesla-energy-alerts.yaml: the bundled alert rules.

Each rule is one InfluxQL query (refId A, against the provisioned datasource uid
``tesla-influxdb``, over the rule's relative time range), a ``reduce`` (B: last value of each
series) and a ``threshold`` (C, the condition). All rules live in one folder, "Tesla Energy".
Run ``python grafana/build_alerts.py`` after editing; ``--check`` fails when the committed file
is stale. The tests run every query against a real influxd and evaluate B and C from the file.

``$`` in this file: Grafana expands ``$NAME`` / ``${NAME}`` environment references in the
provisioning values it reads (``$$`` = a literal ``$``), but not in a query's ``model`` (raw
since Grafana 9.1.2, grafana/grafana#54293) nor in ``annotations`` (raw since #54975). So the
queries keep a plain ``$timeFilter`` (Grafana's InfluxQL backend replaces it, and
``$__interval``, at evaluation; ``$$timeFilter`` would reach InfluxDB verbatim), summaries keep
``{{ $labels.x }}``, and titles, labels and uids hold no ``$`` at all (test_alerts checks both).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

OUT = Path(__file__).resolve().parent / "provisioning" / "alerting" / "tesla-energy-alerts.yaml"
DATASOURCE = "tesla-influxdb"
FOLDER = "Tesla Energy"

#: (uid, title, query, window seconds, threshold type, threshold, for, no-data state, summary)
RULES: tuple[tuple[str, str, str, int, str, float, str, str, str], ...] = (
    ("tesla-grid-down", "Grid down",
     'SELECT count("grid_status") FROM "live_status" WHERE $timeFilter AND '
     "\"grid_status\" != 'Active' GROUP BY \"site_name\"",
     120, "gt", 0, "0s", "OK", "{{ $labels.site_name }} is off the grid (grid_status not Active)"),
    ("tesla-battery-low", "Battery below 20 %",
     'SELECT last("percentage_charged") FROM "live_status" WHERE $timeFilter GROUP BY '
     '"site_name"', 600, "lt", 20, "5m", "OK",
     "{{ $labels.site_name }} battery at {{ $values.B }} %"),
    ("tesla-collector-stale", "Collector stale (no live point for 15 minutes)",
     'SELECT count("load_power") FROM "live_status" WHERE $timeFilter', 900, "lt", 1, "0s",
     "Alerting", "no live_status point in the last 15 minutes: the collector or the Fleet "
     "API is down, or InfluxDB refuses its writes"),
    ("tesla-spool-growing", "InfluxDB not taking writes (spool not empty)",
     'SELECT last("spool_points") FROM "collector" WHERE $timeFilter AND '
     "\"endpoint\" = 'influxdb'", 900, "gt", 0, "10m", "OK",
     "{{ $values.B }} points wait in the collector's spool"),
    ("tesla-api-errors", "Fleet API errors or 429s sustained",
     'SELECT sum("errors") FROM "collector" WHERE $timeFilter', 900, "gt", 10, "15m", "OK",
     "{{ $values.B }} failed Fleet API requests (errors and 429s) in 15 minutes"),
    ("tesla-storm-watch", "Storm watch active",
     'SELECT count("storm_mode_active") FROM "live_status" WHERE $timeFilter AND '
     '"storm_mode_active" = true GROUP BY "site_name"', 300, "gt", 0, "0s", "OK",
     "{{ $labels.site_name }}: Storm Watch is charging the battery for an outage"),
    ("tesla-tariff-changed", "Tariff changed",
     'SELECT count("sha256") FROM "tariff_version" WHERE $timeFilter AND "source" = '
     "'site_info'", 3600, "gt", 0, "0s", "OK",
     "the site's tariff changed in the Tesla app (a new tariff_version snapshot)"),
    # settings_changed_outside is computed by the daemon at each site_info snapshot
    # (collector/settings_watch.py): InfluxQL cannot join site_info with control_event.
    ("tesla-settings-changed", "Settings changed outside this tool",
     'SELECT max("settings_changed_outside") FROM "site_info" WHERE $timeFilter GROUP BY '
     '"site_name"', 3600, "gt", 0, "0s", "OK",
     "{{ $labels.site_name }}: backup reserve or operation mode changed without "
     "tesla-energy set (Tesla app, installer or another tool)"),
)


def rule(uid: str, title: str, query: str, window: int, kind: str, threshold: float,
         pending: str, no_data: str, summary: str) -> dict[str, Any]:
    return {
        "uid": uid, "title": title, "condition": "C", "for": pending,
        "noDataState": no_data, "execErrState": "Error",
        "annotations": {"summary": summary}, "labels": {"product": "tesla-energy"},
        "data": [
            {"refId": "A", "datasourceUid": DATASOURCE,
             "relativeTimeRange": {"from": window, "to": 0},
             "model": {"refId": "A", "rawQuery": True, "query": query,
                       "resultFormat": "time_series", "intervalMs": 1000,
                       "maxDataPoints": 43200}},
            {"refId": "B", "datasourceUid": "__expr__",
             "model": {"refId": "B", "type": "reduce", "expression": "A",
                       "reducer": "last", "settings": {"mode": "dropNN"}}},
            {"refId": "C", "datasourceUid": "__expr__",
             "model": {"refId": "C", "type": "threshold", "expression": "B",
                       "conditions": [{"evaluator": {"type": kind,
                                                     "params": [threshold]}}]}},
        ],
    }


def document() -> dict[str, Any]:
    return {"apiVersion": 1, "groups": [{
        "orgId": 1, "name": "tesla-energy", "folder": FOLDER, "interval": "1m",
        "rules": [rule(*spec) for spec in RULES]}]}


def render() -> str:
    header = ("# Generated by grafana/build_alerts.py: edit that file, then run it.\n"
              "# The bundled alert rules (InfluxQL against the datasource uid tesla-influxdb).\n")
    return header + yaml.safe_dump(document(), sort_keys=False, width=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not OUT.exists() or OUT.read_text() != text:
            print("out of date: run python grafana/build_alerts.py", file=sys.stderr)
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
