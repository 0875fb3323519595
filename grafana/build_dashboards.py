"""Generate the bundled Grafana dashboards (grafana/dashboards/*.json) from one description.

Run ``python grafana/build_dashboards.py`` after changing this file; the tests check that the
committed JSON equals this generator's output (``--check`` does the same from the shell).

Every query is raw InfluxQL, so the dashboards work on InfluxDB 1.8+, on 2.x through the DBRP
mapping and on 3 Core. Every panel, target, variable and annotation names the provisioned
datasource by its fixed uid (``grafana/provisioning/datasources/influxdb.yaml``); dashboards
have stable uids and no numeric ids.

Time zones: times are shown in Grafana's default zone (``timezone: ""``), which the compose
file sets from ``TESLA_TIME_ZONE`` (``GF_DATE_FORMATS_DEFAULT_TIMEZONE``; the browser's zone
when unset). Day totals are cut at the SITE's midnight by InfluxQL's ``tz('$tz')`` clause:
``$tz`` is a query variable reading the ``time_zone`` tag the collector writes on every
``site_info`` point (the zone it resolved for the site), for the selected sites, so nobody
types a zone; a typed or URL value (``?var-tz=Europe/Berlin``) overrides it. With sites in
several zones selected, ``$tz`` is the first of their zones and every day panel names it in
its title. Months have no fixed length, so monthly bars are daily sums grouped into calendar
months by Grafana (``formatTime`` + ``groupBy`` transformations), never ``GROUP BY time(30d)``.

Standard library only; writes nothing but the dashboard files.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATASOURCE_UID = "tesla-influxdb"
DS = {"type": "influxdb", "uid": DATASOURCE_UID}
OUT_DIR = Path(__file__).resolve().parent / "dashboards"
TAGS = ["tesla-energy"]
SITE = '"site_id" =~ /^$site$/'
DAY = "GROUP BY time(1d)"  # always followed by tail(): fill() then tz('$tz')
GRID_WIDTH = 24

Json = dict[str, Any]

# --- queries -------------------------------------------------------------------------------


def tail(group: str, fill: str, by: str = "") -> str:
    """`` GROUP BY ...[, "by"] fill(...)`` plus ``tz('$tz')`` for day buckets ("" without a
    group)."""
    if not group:
        return ""
    tag = f', "{by}"' if by else ""
    return f" {group}{tag} fill({fill})" + (" tz('$tz')" if group == DAY else "")


def sums(*columns: tuple[str, str]) -> str:
    """``sum(a) + sum(b) AS "alias"`` select items from (alias, "a+b") pairs."""
    items = []
    for alias, expr in columns:
        parts = [f'sum("{name.strip()}")' for name in expr.split("+")]
        items.append(f'{" + ".join(parts)} AS "{alias}"')
    return ", ".join(items)


def energy_query(*columns: tuple[str, str], group: str = DAY) -> str:
    return (f'SELECT {sums(*columns)} FROM "energy_history" WHERE $timeFilter AND {SITE}'
            f'{tail(group, "0")}')


SOLAR = ("Solar", "solar_energy_exported")
HOME_SOURCES = (
    ("From solar", "consumer_energy_imported_from_solar"),
    ("From battery", "consumer_energy_imported_from_battery"),
    ("From grid", "consumer_energy_imported_from_grid"),
    ("From generator", "consumer_energy_imported_from_generator"),
)
HOME = ("Home", "+".join(expr for _, expr in HOME_SOURCES))
GRID_IMPORT = ("Grid import", "grid_energy_imported")
GRID_EXPORT = ("Grid export", "grid_energy_exported_from_solar + grid_energy_exported_from_battery"
               " + grid_energy_exported_from_generator")
BATTERY_CHARGE = ("Battery charge", "battery_energy_imported_from_solar"
                  " + battery_energy_imported_from_grid + battery_energy_imported_from_generator")
BATTERY_DISCHARGE = ("Battery discharge", "battery_energy_exported")

SELF_POWERED_SQL = (
    '100 * (sum("consumer_energy_imported_from_solar") + '
    'sum("consumer_energy_imported_from_battery")) / (sum("consumer_energy_imported_from_solar")'
    ' + sum("consumer_energy_imported_from_battery") + sum("consumer_energy_imported_from_grid")'
    ' + sum("consumer_energy_imported_from_generator")) AS "Self-powered"'
)


def self_powered_query(group: str = "") -> str:
    return (f'SELECT {SELF_POWERED_SQL} FROM "energy_history" WHERE $timeFilter AND {SITE}'
            f'{tail(group, "none")}')


def series_query(measurement: str, select: str, by: str = "", fill: str = "null",
                 where: str = SITE) -> str:
    """``SELECT ... GROUP BY time($__interval)[, by] fill(...)`` over one measurement."""
    group = 'GROUP BY time($__interval)' + (f', "{by}"' if by else "")
    condition = f"$timeFilter AND {where}" if where else "$timeFilter"
    return f'SELECT {select} FROM "{measurement}" WHERE {condition} {group} fill({fill})'


def live_last(field_name: str, measurement: str = "live_status", by: str = "site_name") -> str:
    return series_query(measurement, f'last("{field_name}")', by=by, fill="none")


def target(query: str, ref: str = "A", alias: str = "", fmt: str = "time_series") -> Json:
    result = {"datasource": DS, "query": query, "rawQuery": True, "refId": ref,
              "resultFormat": fmt}
    if alias:
        result["alias"] = alias
    return result


# --- panels --------------------------------------------------------------------------------


def thresholds(*steps: tuple[float | None, str]) -> Json:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


GREEN = thresholds((None, "green"))


def value_map(mapping: dict[str, tuple[str, str]]) -> list[Json]:
    options = {key: {"color": color, "index": i, "text": text}
               for i, (key, (text, color)) in enumerate(mapping.items())}
    return [{"options": options, "type": "value"}]


GRID_STATUS_MAP = value_map({
    "Active": ("On grid", "green"),
    "Inactive": ("Off grid (backup)", "red"),
    "Transition": ("Switching", "orange"),
    "Unknown": ("Unknown", "text"),
})
ON_OFF_MAP = value_map({"true": ("On", "orange"), "false": ("Off", "green")})


def defaults(unit: str = "", **extra: Any) -> Json:
    base: Json = {"color": {"mode": "palette-classic"}, "thresholds": GREEN}
    if unit:
        base["unit"] = unit
    base.update(extra)
    return {"defaults": base, "overrides": []}


def stat(title: str, targets: list[Json], unit: str = "", calc: str = "lastNotNull",
         **extra: Any) -> Json:
    return {
        "type": "stat", "title": title, "targets": targets,
        "fieldConfig": defaults(unit, color={"mode": "thresholds"}, **extra),
        "options": {"colorMode": "value", "graphMode": "area", "justifyMode": "auto",
                    "orientation": "auto", "textMode": "auto",
                    "reduceOptions": {"calcs": [calc], "fields": "", "values": False}},
    }


def gauge(title: str, targets: list[Json]) -> Json:
    return {
        "type": "gauge", "title": title, "targets": targets,
        "fieldConfig": defaults("percent", min=0, max=100, color={"mode": "thresholds"},
                                thresholds=thresholds((None, "red"), (20, "orange"),
                                                      (50, "green"))),
        "options": {"orientation": "auto", "showThresholdLabels": False,
                    "showThresholdMarkers": True,
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
    }


def timeseries(title: str, targets: list[Json], unit: str = "", bars: bool = False,
               stack: bool = False, points: bool = False) -> Json:
    style = "bars" if bars else "points" if points else "line"
    custom = {"drawStyle": style, "fillOpacity": 80 if bars else 10, "lineWidth": 1,
              "pointSize": 6, "showPoints": "always" if points else "never", "spanNulls": False,
              "stacking": {"group": "A", "mode": "normal" if stack else "none"}}
    return {
        "type": "timeseries", "title": title, "targets": targets,
        "fieldConfig": defaults(unit, custom=custom),
        "options": {"legend": {"calcs": ["sum"] if bars else ["mean", "max"],
                               "displayMode": "table", "placement": "bottom"},
                    "tooltip": {"mode": "multi", "sort": "none"}},
    }


def month_bars(title: str, query: str | list[str], unit: str, columns: list[str]) -> Json:
    """Daily sums (table format) grouped into calendar months in the dashboard's zone; several
    queries (one per measurement) are merged on their day first."""
    queries = [query] if isinstance(query, str) else query
    group = {"Time": {"aggregations": [], "operation": "groupby"}}
    group.update({c: {"aggregations": ["sum"], "operation": "aggregate"} for c in columns})
    renames = {f"{c} (sum)": c for c in columns}
    merge = [{"id": "merge", "options": {}}] if len(queries) > 1 else []
    return {
        "type": "barchart", "title": title,
        "targets": [target(q, ref=chr(ord("A") + i), fmt="table")
                    for i, q in enumerate(queries)],
        "description": "Days cut at the site's midnight ($tz), grouped into calendar months "
                       "in the dashboard's time zone (set it to the site's zone when they "
                       "differ)",
        "fieldConfig": defaults(unit, custom={"fillOpacity": 80, "lineWidth": 1}),
        "options": {"barWidth": 0.8, "legend": {"displayMode": "list", "placement": "bottom"},
                    "orientation": "vertical", "showValue": "never", "stacking": "normal",
                    "xField": "Month", "xTickLabelRotation": -45,
                    "tooltip": {"mode": "multi", "sort": "none"}},
        "transformations": [
            *merge,
            {"id": "formatTime", "options": {"outputFormat": "YYYY-MM", "timeField": "Time",
                                             "useTimezone": True}},
            {"id": "groupBy", "options": {"fields": group}},
            {"id": "organize", "options": {"renameByName": {"Time": "Month", **renames}}},
        ],
    }


def state_timeline(title: str, targets: list[Json], mappings: list[Json]) -> Json:
    return {
        "type": "state-timeline", "title": title, "targets": targets,
        "fieldConfig": defaults(mappings=mappings, color={"mode": "thresholds"}),
        "options": {"mergeValues": True, "rowHeight": 0.8, "showValue": "auto",
                    "legend": {"displayMode": "list", "placement": "bottom"}},
    }


def table(title: str, targets: list[Json], units: dict[str, str]) -> Json:
    overrides = [{"matcher": {"id": "byName", "options": name},
                  "properties": [{"id": "unit", "value": unit}]}
                 for name, unit in units.items()]
    config = defaults()
    config["overrides"] = overrides
    return {
        "type": "table", "title": title, "targets": targets, "fieldConfig": config,
        "options": {"showHeader": True, "sortBy": [{"desc": True, "displayName": "Time"}]},
    }


def describe(panel: Json, text: str) -> Json:
    return {**panel, "description": text}


# --- dashboards ----------------------------------------------------------------------------


#: Every site the collector knows, by name, from the ``site_name`` tag of ``site_info`` (written
#: by the daemon and by every backfill); the hidden ``$site`` holds the ids of the chosen names,
#: which is what every query filters on (``energy_history`` has no name tag). InfluxQL cannot
#: return id/name pairs in a form Grafana maps (SHOW SERIES keys keep line-protocol escapes),
#: hence the chain name -> ids -> zone.
SITE_NAME_QUERY = 'SHOW TAG VALUES FROM "site_info" WITH KEY = "site_name"'
SITE_QUERY = ('SHOW TAG VALUES FROM "site_info" WITH KEY = "site_id" '
              'WHERE "site_name" =~ /^$site_name$/')
TZ_QUERY = 'SHOW TAG VALUES FROM "site_info" WITH KEY = "time_zone" WHERE "site_id" =~ /^$site$/'
TZ_DESCRIPTION = ("Day and month totals start at midnight in this zone: the zone the collector "
                  "resolved for the selected site (from TESLA_TIME_ZONE, site_info or the "
                  "history replies). Type another IANA zone to override it. With sites in "
                  "several zones selected it is the first of their zones; when the collector "
                  "knows no zone for a site, InfluxDB cuts days at UTC midnight.")


def query_variable(name: str, label: str, query: str, *, multi: bool = True,
                   hide: int = 0, **extra: Any) -> Json:
    return {"type": "query", "name": name, "label": label, "datasource": DS, "query": query,
            "definition": query, "refresh": 1, "multi": multi, "includeAll": multi,
            "current": {}, "sort": 1, "hide": hide, "options": [], **extra}


def site_variables() -> list[Json]:
    """The visible site chooser (names) and the hidden ids it stands for (``$site``)."""
    return [query_variable("site_name", "Site", SITE_NAME_QUERY),
            query_variable("site", "Site id", SITE_QUERY, hide=2,
                           current={"text": "All", "value": "$__all"})]


def tz_variable() -> Json:
    return query_variable("tz", "Site time zone", TZ_QUERY, multi=False,
                          allowCustomValue=True, description=TZ_DESCRIPTION)


def groups_by_day(panel: Json) -> bool:
    return any(DAY in item["query"] for item in panel.get("targets", []))


def in_site_days(panel: Json) -> Json:
    """A day- or month-bucket panel, its title naming the zone its days are cut in."""
    if not groups_by_day(panel) or "$tz" in panel["title"]:
        return panel
    return {**panel, "title": f"{panel['title']} ($tz)"}


def annotation(name: str, query: str, color: str, text: str, tags: str = "") -> Json:
    return {"datasource": DS, "enable": True, "iconColor": color, "name": name,
            "query": query, "tagsColumn": tags, "textColumn": text, "titleColumn": ""}


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    rows: list[list[tuple[int, int, Json]]]  # rows of (width, height, panel)
    variables: list[Json] = field(default_factory=list)
    annotations: list[Json] = field(default_factory=list)
    time_from: str = "now-24h"
    refresh: str = ""

    def render(self) -> Json:
        panels, y, next_id = [], 0, 1
        has_tz = any(v["name"] == "tz" for v in self.variables)
        for row in self.rows:
            x, row_height = 0, 0
            for width, height, panel in row:
                if x + width > GRID_WIDTH:
                    raise ValueError(f"{self.uid}: row wider than {GRID_WIDTH}")
                if groups_by_day(panel) and not has_tz:
                    raise ValueError(f"{self.uid}: {panel['title']!r} groups by day but the "
                                     "dashboard has no $tz variable")
                panels.append({**in_site_days(panel), "id": next_id, "datasource": DS,
                               "gridPos": {"h": height, "w": width, "x": x, "y": y}})
                next_id, x, row_height = next_id + 1, x + width, max(row_height, height)
            y += row_height
        return {
            "annotations": {"list": self.annotations},
            "description": self.description,
            "editable": True,
            "graphTooltip": 1,
            "links": [{"asDropdown": True, "includeVars": True, "keepTime": True,
                       "tags": TAGS, "title": "Tesla Energy", "type": "dashboards"}],
            "panels": panels,
            "refresh": self.refresh,
            "schemaVersion": 39,
            "tags": TAGS,
            "templating": {"list": self.variables},
            "time": {"from": self.time_from, "to": "now"},
            "timepicker": {},
            "timezone": "",
            "title": self.title,
            "uid": self.uid,
            "version": 1,
        }


def power_stat(title: str, field_name: str, description: str) -> tuple[int, int, Json]:
    panel = stat(title, [target(live_last(field_name), alias="$tag_site_name")], "watt")
    return 4, 4, describe(panel, description)


def overview() -> Dashboard:
    wall = stat("Wall Connector", [target(live_last("wall_connector_power", "wall_connector",
                                                    by="din"), alias="$tag_din")], "watt")
    power_24h = timeseries("Power, last 24 h", [
        target(series_query("live_status", 'mean("solar_power") AS "Solar", mean("load_power") '
                            'AS "Home", mean("battery_power") AS "Battery", mean("grid_power") '
                            'AS "Grid"', by="site_name"), alias="$tag_site_name $col"),
        target(series_query("wall_connector", 'mean("wall_connector_power") AS "Wall Connector"',
                            by="din"), ref="B", alias="$col $tag_din"),
    ], "watt")
    # The newest day bucket cut at the site's midnight ($tz), not at the viewer's: the range
    # of two days always holds the site's whole "today", whatever the viewer's zone.
    today = stat("Today's energy", [target(energy_query(
        SOLAR, HOME, GRID_IMPORT, GRID_EXPORT, BATTERY_CHARGE, BATTERY_DISCHARGE))],
        "watth", calc="lastNotNull")
    today["timeFrom"] = "now-2d"
    today["hideTimeOverride"] = True
    today["options"]["graphMode"] = "none"
    return Dashboard(
        uid="tesla-overview", title="Tesla Energy: Overview", refresh="30s",
        description="Live power flow, battery, grid status and today's energy",
        variables=[*site_variables(), tz_variable()],
        rows=[
            [power_stat("Solar", "solar_power", "Solar production"),
             power_stat("Home", "load_power", "Home consumption (includes the Wall Connector)"),
             power_stat("Battery", "battery_power", "Positive: discharging; negative: charging"),
             power_stat("Grid", "grid_power", "Positive: importing; negative: exporting"),
             (4, 4, wall),
             (4, 4, gauge("Battery charge", [target(live_last("percentage_charged"),
                                                    alias="$tag_site_name")]))],
            [(6, 4, stat("Grid status", [target(live_last("grid_status"),
                                                alias="$tag_site_name")],
                         mappings=GRID_STATUS_MAP)),
             (6, 4, stat("Storm watch", [target(live_last("storm_mode_active"),
                                                alias="$tag_site_name")],
                         mappings=ON_OFF_MAP)),
             (12, 4, describe(today, "Totals since midnight in the site's zone ($tz) "
                                     "from energy_history (Tesla's 5-minute Wh buckets)"))],
            [(24, 10, power_24h)],
        ],
    )


def energy() -> Dashboard:
    def daily(title: str, *columns: tuple[str, str], stack: bool = True) -> Json:
        return timeseries(title, [target(energy_query(*columns))], "watth", bars=True,
                          stack=stack)

    def monthly(title: str, *columns: tuple[str, str]) -> Json:
        return month_bars(title, energy_query(*columns), "watth", [a for a, _ in columns])

    totals = stat("Totals for the range", [target(energy_query(
        SOLAR, HOME, GRID_IMPORT, GRID_EXPORT, BATTERY_CHARGE, BATTERY_DISCHARGE, group=""))],
        "watth", calc="sum")
    totals["options"]["graphMode"] = "none"
    self_powered = stat("Self-powered", [target(self_powered_query())], "percent",
                        min=0, max=100)
    self_powered["options"]["graphMode"] = "none"
    return Dashboard(
        uid="tesla-energy", title="Tesla Energy: Energy", time_from="now-30d",
        description="Daily and monthly energy from Tesla's exact watt-hour history",
        variables=[*site_variables(), tz_variable()],
        rows=[
            [(18, 4, totals),
             (6, 4, describe(self_powered, "Share of home usage covered by solar and battery"))],
            [(12, 8, daily("Solar generation per day", SOLAR)),
             (12, 8, monthly("Solar generation per month", SOLAR))],
            [(12, 8, daily("Home usage by source per day", *HOME_SOURCES)),
             (12, 8, monthly("Home usage by source per month", *HOME_SOURCES))],
            [(12, 8, daily("Grid import vs export per day", GRID_IMPORT, GRID_EXPORT,
                           stack=False)),
             (12, 8, monthly("Grid import vs export per month", GRID_IMPORT, GRID_EXPORT))],
            [(12, 8, daily("Battery charge vs discharge per day", BATTERY_CHARGE,
                           BATTERY_DISCHARGE, stack=False)),
             (12, 8, monthly("Battery charge vs discharge per month", BATTERY_CHARGE,
                             BATTERY_DISCHARGE))],
            [(24, 8, timeseries("Self-powered per day", [target(self_powered_query(DAY))],
                                "percent", bars=True))],
        ],
    )


def backup_events(select: str, group: str = "") -> str:
    return f'SELECT {select} FROM "backup_event" WHERE $timeFilter AND {SITE}{tail(group, "0")}'


OUTAGE_REPORT = backup_events('"duration_seconds", "home_usage_wh", "battery_energy_wh", '
                               '"solar_energy_wh", "soc_start", "soc_end"')
OUTAGE_UNITS = {"duration_seconds": "s", "home_usage_wh": "watth", "battery_energy_wh": "watth",
                "solar_energy_wh": "watth", "soc_start": "percent", "soc_end": "percent"}


def battery_query(select: str) -> str:
    return f'SELECT {select} FROM "battery_health" WHERE $timeFilter AND {SITE}'


def battery_health() -> Dashboard:
    """Capacity against nameplate and the 70 % warranty line, efficiency and cycles."""
    capacity = timeseries("Capacity estimate (% of nameplate)", [
        target(battery_query('"capacity_percent" AS "Capacity"'))], "percent", points=True)
    capacity["fieldConfig"]["defaults"]["thresholds"] = thresholds(
        (None, "red"), (70.0, "orange"), (100.0, "green"))
    capacity["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] = {"mode": "line"}
    capacity["fieldConfig"]["defaults"].update(min=0, max=110)
    return Dashboard(
        uid="tesla-battery-health", title="Tesla Energy: Battery health", time_from="now-2y",
        description="Capacity estimate against nameplate (100 %) and the 70 % warranty line, "
                    "round-trip efficiency over the trailing 30 days, cycles per day",
        variables=[*site_variables(), tz_variable()],
        rows=[
            [(24, 9, describe(capacity, "Daily capacity estimate: the day's largest plausible "
                              "total_pack_energy, else a state-of-charge swing of 20 points "
                              "or more; lines at 100 % (nameplate) and 70 % (warranty)"))],
            [(12, 8, timeseries("Round-trip efficiency (trailing 30 days)", [target(
                battery_query('"round_trip_efficiency" AS "Efficiency"'))], "percentunit")),
             (12, 8, month_bars("Equivalent full cycles per month", battery_query(
                 'sum("cycles") AS "Cycles"') + tail(DAY, "0"),
                 "none", ["Cycles"]))],
        ],
    )


def outages() -> Dashboard:
    events = backup_events('"duration_seconds"')
    count_month = month_bars("Outages per month", backup_events(
        'count("duration_seconds") AS "Outages"', DAY), "none", ["Outages"])
    duration_month = month_bars("Outage duration per month", backup_events(
        'sum("duration_seconds") AS "Duration"', DAY), "s", ["Duration"])
    timeline = timeseries("Outages (start and duration)", [target(
        backup_events('"duration_seconds" AS "Duration"'))], "s", points=True)
    return Dashboard(
        uid="tesla-outages", title="Tesla Energy: Outages", time_from="now-1y",
        description="Grid outages the site rode through on its battery (backup events)",
        variables=[*site_variables(), tz_variable()],
        annotations=[annotation("Outages", events, "red", "duration_seconds")],
        rows=[
            [(12, 9, table("Backup events", [target(OUTAGE_REPORT, fmt="table")],
                           OUTAGE_UNITS)),
             (12, 9, timeline)],
            [(12, 8, count_month), (12, 8, duration_month)],
            [(24, 6, state_timeline("Grid status", [target(live_last("grid_status"),
                                                           alias="$tag_site_name")],
                                    GRID_STATUS_MAP))],
        ],
    )


SESSIONS = ('SELECT "duration_seconds", "energy_added_wh", "cost", "solar_share" FROM '
            f'"charge_session" WHERE $timeFilter AND {SITE} GROUP BY "din"')
SESSION_UNITS = {"duration_seconds": "s", "energy_added_wh": "watth", "cost": "none",
                 "solar_share": "percentunit"}


def session_query(select: str) -> str:
    return f'SELECT {select} FROM "charge_session" WHERE $timeFilter AND {SITE}{tail(DAY, "0")}'


def charging_cost_month() -> Json:
    return describe(month_bars("Charging cost per month", session_query(
        'sum("cost") AS "Charging cost"'), "none", ["Charging cost"]),
        "Each session's energy priced minute by minute at the tariff's buy price")


def wall_connector() -> Dashboard:
    per_day = session_query('sum("energy_added_wh") AS "Energy"')
    return Dashboard(
        uid="tesla-wall-connector", title="Tesla Energy: Wall Connector", time_from="now-30d",
        description="Wall Connector power and charge sessions with their cost",
        variables=[*site_variables(), tz_variable()],
        rows=[
            [(24, 8, timeseries("Power by connector", [target(series_query(
                "wall_connector", 'mean("wall_connector_power")', by="din"),
                alias="$tag_din")], "watt"))],
            [(14, 9, describe(table("Charge sessions", [target(SESSIONS, fmt="table")],
                                    SESSION_UNITS),
                              "cost: in the tariff's currency; solar_share: the share of home "
                              "use that came from solar while the session ran")),
             (10, 9, month_bars("Energy per month", per_day, "watth", ["Energy"]))],
            [(24, 8, charging_cost_month())],
        ],
    )


# --- cost ----------------------------------------------------------------------------------

CHARGES = "energy_cost_charges"


def cost_query(select: str, group: str = DAY, measurement: str = "energy_cost",
               by: str = "", fill: str = "0") -> str:
    return (f'SELECT {select} FROM "{measurement}" WHERE $timeFilter AND {SITE}'
            f'{tail(group, fill, by)}')


def charges_query(select: str, group: str = DAY, by: str = "", fill: str = "0") -> str:
    return cost_query(select, group, CHARGES, by, fill)


def stacked_by(names_to_groups: dict[str, str]) -> list[Json]:
    """Overrides stacking each named series in its own group (side-by-side stacks)."""
    return [{"matcher": {"id": "byName", "options": name},
             "properties": [{"id": "custom.stacking",
                             "value": {"group": group, "mode": "normal"}}]}
            for name, group in names_to_groups.items()]


def money_stat(title: str, query: str, description: str, decimals: int = 2) -> Json:
    panel = stat(title, [target(query)], "none", calc="sum", decimals=decimals)
    panel["options"]["graphMode"] = "none"
    return describe(panel, description)


#: Per-kWh prices: (name, money column of energy_cost, energy_history kWh column).
PER_KWH = (("Paid per kWh imported", "import_cost", "grid_energy_imported"),
           ("Net cost per kWh used", "net_cost", "total_home_usage"))


def per_kwh_targets(group: str, ratios: tuple[tuple[str, str, str], ...] = PER_KWH
                    ) -> tuple[list[Json], list[Json]]:
    """Money sums (energy_cost) and kWh sums (energy_history) per group, and the Grafana
    transformations that divide them (InfluxQL cannot divide across measurements)."""
    targets, calculations, inputs = [], [], []
    for number, (name, money, energy) in enumerate(ratios):
        cost_col, kwh_col = f"{money} sum", f"{energy} kWh"
        targets.append(target(cost_query(f'sum("{money}") AS "{cost_col}"', group,
                                          fill="none"), ref=chr(65 + 2 * number), alias="$col"))
        targets.append(target(
            f'SELECT sum("{energy}") / 1000 AS "{kwh_col}" FROM "energy_history" WHERE '
            f'$timeFilter AND {SITE}{tail(group, "none")}', ref=chr(66 + 2 * number),
            alias="$col"))
        calculations.append({"id": "calculateField", "options": {
            "mode": "binary", "alias": name, "replaceFields": False,
            "binary": {"left": cost_col, "operator": "/", "right": kwh_col}}})
        inputs += [cost_col, kwh_col]
    transformations = [{"id": "joinByField", "options": {"byField": "Time", "mode": "outer"}},
                       *calculations,
                       {"id": "organize", "options": {"excludeByName": dict.fromkeys(
                           inputs, True)}}]
    return targets, transformations


def per_kwh_stat(ratio: tuple[str, str, str]) -> Json:
    targets, transformations = per_kwh_targets("", (ratio,))
    panel = stat(ratio[0], targets, "none", calc="lastNotNull", decimals=3)
    panel["options"]["graphMode"] = "none"
    return {**panel, "transformations": transformations}


def cost() -> Dashboard:
    energy_net = cost_query('sum("net_cost") AS "Energy"')
    charges_by_kind = charges_query('sum("amount") AS "charges"', by="charge")
    daily_net = timeseries("Net cost per day", [
        target(energy_net), target(charges_by_kind, ref="B", alias="$tag_charge charges")],
        "none", bars=True, stack=True)
    monthly_net = month_bars("Net cost per month", [
        energy_net, charges_query('sum("amount") AS "Fixed and demand charges"')], "none",
        ["Energy", "Fixed and demand charges"])
    split = timeseries("Savings: without solar and battery vs actual, per day", [
        target(cost_query('sum("baseline_cost") AS "Energy without solar and battery", '
                          'sum("net_cost") AS "Energy actual"')),
        target(charges_query('sum("baseline_amount") AS "Charges without solar and battery", '
                             'sum("amount") AS "Charges actual"'), ref="B"),
    ], "none", bars=True)
    split["fieldConfig"]["overrides"] = stacked_by({
        "Energy without solar and battery": "baseline",
        "Charges without solar and battery": "baseline",
        "Energy actual": "actual", "Charges actual": "actual"})
    price_targets, price_steps = per_kwh_targets(DAY)
    prices = {**timeseries("Effective price per kWh, per day", price_targets, "none"),
              "transformations": price_steps}
    cumulative = timeseries("Cumulative savings (and the system price)", [
        target(cost_query('cumulative_sum(sum("savings")) AS "Cumulative savings"')),
        target(charges_query('max("system_price") AS "System price"', fill="none"), ref="B"),
    ], "none")
    sessions = describe(table("Charging cost per session", [target(SESSIONS, fmt="table")],
                              SESSION_UNITS),
                        "Each Wall Connector session: energy, cost at the buy price of the "
                        "minutes it ran, and the share of home use covered by solar")
    return Dashboard(
        uid="tesla-cost", title="Tesla Energy: Cost & savings", time_from="now-90d",
        description="What energy cost under the site's own tariff, what solar and the "
                    "Powerwall saved, and what charging cost (amounts in the tariff's currency)",
        variables=[*site_variables(), tz_variable()],
        rows=[
            [(4, 4, money_stat("Net energy cost", cost_query('sum("net_cost")', ""),
                               "Imports at the buy price minus exports at the sell price")),
             (4, 4, money_stat("Fixed and demand charges", charges_query('sum("amount")', ""),
                               "Daily charges of each day and the demand charges of each "
                               "month in the range")),
             (4, 4, money_stat("Export credit", cost_query('sum("export_credit")', ""),
                               "Exports at the sell price")),
             (4, 4, money_stat("Savings on energy", cost_query('sum("savings")', ""),
                               "Home usage at the buy price minus the net energy cost")),
             (4, 4, describe(per_kwh_stat(PER_KWH[0]),
                             "Import cost divided by the grid energy imported")),
             (4, 4, describe(per_kwh_stat(PER_KWH[1]),
                             "Net energy cost divided by the energy the home used"))],
            [(12, 8, describe(daily_net, "Energy net cost plus daily and demand charges "
                                         "(demand charges sit on the first day of the month)")),
             (12, 8, monthly_net)],
            [(12, 8, describe(split, "Left stack: the bill without solar and battery (home "
                                     "usage at the buy price, the home's own demand peaks); "
                                     "right stack: the actual bill")),
             (12, 8, timeseries("Export credit per day", [target(cost_query(
                 'sum("export_credit") AS "Export credit"'))], "none", bars=True))],
            [(12, 8, prices),
             (12, 8, describe(cumulative, "Savings on energy added up from the start of the "
                                          "range; the system price (cost.system_price) is the "
                                          "payback line"))],
            [(14, 9, sessions), (10, 9, charging_cost_month())],
        ],
    )


def settings_history() -> Dashboard:
    changes = ('SELECT "value", "previous", "setting" FROM "control_event" WHERE $timeFilter '
               f'AND {SITE}')

    def setting(title: str, name: str, mappings: list[Json] | None = None) -> Json:
        targets = [target(series_query("site_info", f'last("{name}")', by="site_name",
                                       fill="previous"), alias="$tag_site_name")]
        return state_timeline(title, targets, mappings or [])

    reserve = timeseries("Backup reserve", [target(series_query(
        "site_info", 'last("backup_reserve_percent")', by="site_name", fill="previous"),
        alias="$tag_site_name")], "percent")
    return Dashboard(
        uid="tesla-settings", title="Tesla Energy: Settings history", time_from="now-30d",
        description="Backup reserve, operation mode and storm watch over time; changes made "
                    "with tesla-energy set are annotations",
        variables=site_variables(),
        annotations=[annotation("Setting changes", changes, "blue", "value", tags="setting")],
        rows=[
            [(24, 8, reserve)],
            [(24, 5, setting("Operation mode", "default_real_mode"))],
            [(24, 5, setting("Storm watch enabled", "storm_mode_enabled", ON_OFF_MAP))],
            [(24, 8, table("Changes made by this tool", [target(
                changes.replace(', "setting" FROM', ' FROM') + ' GROUP BY "setting"',
                fmt="table")], {}))],
        ],
    )


def collector_health() -> Dashboard:
    def per_endpoint(title: str, select: str, unit: str = "none", by: str = "endpoint") -> Json:
        return timeseries(title, [target(series_query("collector", select, by=by, fill="none",
                                                      where=""), alias=f"$tag_{by}")],
                          unit, bars=unit == "none")

    sink = "\"endpoint\" = 'influxdb'"
    last_write = ('SELECT last("points_written") AS "points in last write" FROM "collector" '
                  'WHERE $timeFilter AND "points_written" > 0 GROUP BY "job"')
    return Dashboard(
        uid="tesla-collector", title="Tesla Energy: Collector health", time_from="now-6h",
        refresh="1m",
        description="Fleet API requests, errors, rate limits and latency; InfluxDB writes and "
                    "the spool",
        rows=[
            [(12, 8, per_endpoint("Requests per endpoint", 'sum("requests")')),
             (12, 8, per_endpoint("Errors per endpoint", 'sum("errors")'))],
            [(12, 8, per_endpoint("Rate limited (429) per endpoint", 'sum("rate_limited")')),
             (12, 8, per_endpoint("Latency per endpoint", 'mean("latency_ms")', "ms"))],
            [(12, 8, timeseries("Points written per job", [target(series_query(
                "collector", 'sum("points_written")', by="job", fill="none", where=sink),
                alias="$tag_job")], "none", bars=True)),
             (12, 8, timeseries("Spool (points waiting for InfluxDB)", [target(series_query(
                 "collector", 'last("spool_points")', by="job", fill="none", where=sink),
                 alias="$tag_job")], "none"))],
            [(24, 7, table("Last successful write per job", [target(last_write, fmt="table")],
                           {}))],
            [(8, 7, describe(stat("Fleet API cost this month", [target(
                'SELECT last("api_cost_month_usd") FROM "collector" WHERE $timeFilter AND '
                "\"endpoint\" = 'bill'")], "currencyUSD", decimals=2),
                "Billable Fleet API requests (every answer below 500) this UTC month at "
                "COLLECTOR_API_PRICE_DATA, before the monthly credit; counted since the "
                "daemon started")),
             (16, 7, per_endpoint("Billable requests per endpoint", 'sum("billable")'))],
        ],
    )


DASHBOARDS = {
    "overview": overview,
    "energy": energy,
    "outages": outages,
    "battery-health": battery_health,
    "wall-connector": wall_connector,
    "cost": cost,
    "settings-history": settings_history,
    "collector-health": collector_health,
}


def render_all() -> dict[str, str]:
    """File name -> JSON text (2-space indent, sorted keys, trailing newline)."""
    return {f"{name}.json": json.dumps(build().render(), indent=2, sort_keys=True) + "\n"
            for name, build in DASHBOARDS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when the committed files differ from the generator output")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render_all().items():
        path = OUT_DIR / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            OUT_DIR.mkdir(exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"out of date: {', '.join(stale)}; run python grafana/build_dashboards.py",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
