"""Read the bundled dashboards and provisioning, and check InfluxQL the way Grafana sends it.

Shared by the dashboard tests: ``load_dashboards`` / ``queries`` walk every panel target,
annotation and variable query; ``query_problems`` lists what is wrong with one raw InfluxQL
query (missing ``$timeFilter``, ``GROUP BY time`` without an aggregate, unknown variables,
fields that are not in the schema); ``substitute`` replaces Grafana's macros and variables so
a query can run against a real influxd. Test support only.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "grafana"
DASHBOARD_DIR = GRAFANA / "dashboards"
DATASOURCE_FILE = GRAFANA / "provisioning" / "datasources" / "influxdb.yaml"
PROVIDER_FILE = GRAFANA / "provisioning" / "dashboards" / "tesla-energy.yaml"

#: Grafana's global variables that may appear in an InfluxQL query.
BUILTIN_VARIABLES = frozenset({"timeFilter", "__interval", "__interval_ms", "__from", "__to",
                               "__range", "__range_s", "__range_ms", "__rate_interval"})
AGGREGATES = frozenset({"count", "distinct", "integral", "mean", "median", "mode", "spread",
                        "stddev", "sum", "first", "last", "max", "min", "percentile", "sample",
                        "top", "bottom"})
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")
_GROUP_BY_TIME = re.compile(r"GROUP BY\s+time\(", re.IGNORECASE)
_FUNCTION = re.compile(r"\b(\w+)\s*\(")
_SELECT = re.compile(r"^\s*SELECT\s+(?P<select>.*?)\s+FROM\s+\"(?P<measurement>\w+)\"",
                     re.IGNORECASE | re.DOTALL)
_WHERE = re.compile(r"\bWHERE\s+(?P<where>.*?)(?:\s+GROUP BY|$)", re.IGNORECASE | re.DOTALL)
_ALIAS = re.compile(r'\bAS\s+"[^"]*"', re.IGNORECASE)
_IDENTIFIER = re.compile(r'"(\w+)"')


@dataclass(frozen=True)
class Query:
    """One InfluxQL query of a dashboard and where it sits."""

    dashboard: str
    where: str  # "panel 3 'Solar' A", "annotation 'Outages'", "variable site"
    text: str
    variable: bool = False

    def __str__(self) -> str:
        return f"{self.dashboard}: {self.where}"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def datasource_uid() -> str:
    (source,) = load_yaml(DATASOURCE_FILE)["datasources"]
    return source["uid"]


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARD_DIR.glob("*.json"))


def load_dashboards() -> dict[str, dict[str, Any]]:
    """File name -> decoded dashboard."""
    return {path.name: json.loads(path.read_text()) for path in dashboard_files()}


def load_generator() -> ModuleType:
    """``grafana/build_dashboards.py`` as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("build_dashboards",
                                                  GRAFANA / "build_dashboards.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries(name: str, dashboard: Mapping[str, Any]) -> Iterator[Query]:
    for panel in panels(dashboard):
        for item in panel.get("targets", []):
            yield Query(name, f"panel {panel['id']} {panel.get('title')!r} {item['refId']}",
                        item["query"])
    for item in dashboard.get("annotations", {}).get("list", []):
        yield Query(name, f"annotation {item['name']!r}", item["query"])
    for item in dashboard.get("templating", {}).get("list", []):
        if item.get("type") == "query":
            yield Query(name, f"variable {item['name']}", item["query"], variable=True)


def all_queries() -> list[Query]:
    return [q for name, board in load_dashboards().items() for q in queries(name, board)]


def defined_variables(dashboard: Mapping[str, Any]) -> set[str]:
    return {item["name"] for item in dashboard.get("templating", {}).get("list", [])}


def used_variables(text: str) -> set[str]:
    return {a or b for a, b in _VARIABLE.findall(text)}


def schema_columns() -> dict[str, set[str]]:
    """Measurement -> its tag and field names, from the transform's field tables."""
    from collector.transform import fields

    columns = {name: {*schema.tags, *schema.field_names}
               for name, schema in fields.SCHEMAS.items()}
    columns["live_status"] |= {f.name for f in fields.LIVE_STATUS_DERIVED_FIELDS}
    return columns


def query_problems(query: Query, variables: set[str],
                   columns: Mapping[str, set[str]]) -> list[str]:
    """What is wrong with one query (empty list: nothing)."""
    text, problems = query.text, []
    undefined = used_variables(text) - variables - BUILTIN_VARIABLES
    if undefined:
        problems.append(f"undefined variables {sorted(undefined)}")
    if query.variable:
        return problems
    if "$timeFilter" not in text:
        problems.append("no $timeFilter")
    match = _SELECT.match(text)
    if not match:
        return [*problems, "not a SELECT ... FROM \"measurement\" query"]
    select, measurement = match["select"], match["measurement"]
    functions = {f.lower() for f in _FUNCTION.findall(select)}
    if _GROUP_BY_TIME.search(text) and not functions & AGGREGATES:
        problems.append("GROUP BY time without an aggregate")
    known = columns.get(measurement)
    if known is None:
        return [*problems, f"unknown measurement {measurement!r}"]
    where = _WHERE.search(text)
    referenced = set(_IDENTIFIER.findall(_ALIAS.sub("", select)))
    referenced |= set(_IDENTIFIER.findall(where["where"] if where else ""))
    unknown = referenced - known
    if unknown:
        problems.append(f"not in the {measurement} schema: {sorted(unknown)}")
    return problems


def substitute(text: str, start_s: int, end_s: int, interval: str, site_ids: list[str],
               tz: str = "UTC", site_names: list[str] | None = None) -> str:
    """The query Grafana would send for this time range, interval and site selection."""
    replacements = {
        "$timeFilter": f"time >= {start_s}s AND time <= {end_s}s",
        "$__interval": interval,
        "$site_name": grafana_regex_value(site_names) if site_names else ".*",
        "$site": grafana_regex_value(site_ids),
        "$tz": tz,
    }
    for macro in sorted(replacements, key=len, reverse=True):
        text = text.replace(macro, replacements[macro])
    return text


# --- template variables, resolved the way Grafana resolves them ------------------------------


def js_regex(text: str) -> re.Pattern[str]:
    """A Grafana variable regex (``/pattern/flags``, JavaScript syntax) as a Python pattern."""
    body, _, flags = text.strip()[1:].rpartition("/")
    python = re.sub(r"\(\?<(\w+)>", r"(?P<\1>", body)
    return re.compile(python, re.IGNORECASE if "i" in flags else 0)


def metric_find_values(rows: list[dict[str, Any]]) -> list[str]:
    """What Grafana's InfluxDB datasource makes of a variable query's rows, in order: the
    ``value`` column of SHOW TAG VALUES, the ``key`` column of SHOW SERIES."""
    return [str(row["value"] if "value" in row else row["key"]) for row in rows]


def variable_options(values: list[str], regex: str = "") -> list[tuple[str, str]]:
    """(text, value) options from the found values and the variable's regex: named groups
    ``text``/``value`` pick the parts, an unnamed group both, no match drops the value; the
    first option of each value wins (Grafana's ``uniqBy(options, 'value')``)."""
    pattern = js_regex(regex) if regex else None
    options: dict[str, str] = {}
    for found in values:
        text = value = found
        if pattern is not None:
            match = pattern.search(found)
            if match is None:
                continue
            named = match.groupdict()
            if named.get("value") or named.get("text"):
                value = named.get("value") or named["text"]
                text = named.get("text") or value
            elif match.groups():
                text = value = match.group(1)
        options.setdefault(value, text)
    return [(text, value) for value, text in options.items()]


def grafana_regex_value(values: list[str]) -> str:
    """A multi-value selection formatted for ``=~ /^$var$/`` (Grafana's ``regex`` format)."""
    escaped = [re.escape(v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
