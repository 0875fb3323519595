"""The cost report: per local day or month, a total row, notes and the payback estimate.

Per row (amounts in the tariff's currency):

- ``imported_kwh``, ``exported_kwh``: grid import and export;
- ``import_cost``, ``export_credit``: sums of the buckets' ``energy_cost`` values;
- ``fixed_charges``: the daily charges of the row's days; ``demand_charges``: the month's demand
  charges (in a day report they sit on the month's first day inside the range);
- ``net_cost`` = import_cost - export_credit + fixed + demand;
- ``baseline_cost`` = home usage at the buy price + fixed + the demand charge of the home's own
  peak (what the bill would have been with no solar and no battery);
- ``savings`` = baseline_cost - net_cost; ``cumulative_savings`` (with a system price) counts
  from the installation date.

Pure: frames in, a ``Report`` and its table/CSV/JSON text out; no I/O.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from collector.cost.charges import DAILY, DEMAND
from collector.cost.compute import BucketCosts

COLUMNS = ("imported_kwh", "exported_kwh", "import_cost", "export_credit", "fixed_charges",
           "demand_charges", "net_cost", "baseline_cost", "savings")
CUMULATIVE = "cumulative_savings"
BY = ("day", "month")
_FORMATS = {"day": "%Y-%m-%d", "month": "%Y-%m"}


@dataclass(frozen=True)
class Payback:
    """Inputs of the payback estimate: the system's price and its installation day."""

    system_price: float
    installed: date


@dataclass
class Report:
    site_id: int
    currency: str
    by: str
    first: date
    last: date
    zone: str
    rows: list[dict[str, Any]]
    total: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    payback: dict[str, Any] | None = None


def labels(index: pd.DatetimeIndex, zone: str, by: str) -> np.ndarray:
    return np.asarray(index.tz_convert(zone).strftime(_FORMATS[by]), dtype=object)


def _energy_rows(values: pd.DataFrame, zone: str, by: str) -> pd.DataFrame:
    frame = pd.DataFrame({
        "imported_kwh": values["grid_energy_imported"].to_numpy(dtype="float64") / 1000.0,
        "exported_kwh": values["total_grid_energy_exported"].to_numpy(dtype="float64") / 1000,
        "import_cost": values["import_cost"].to_numpy(dtype="float64"),
        "export_credit": values["export_credit"].to_numpy(dtype="float64"),
        "energy_net": values["net_cost"].to_numpy(dtype="float64"),
        "energy_baseline": values["baseline_cost"].to_numpy(dtype="float64"),
        "label": labels(values.index, zone, by)})
    return frame.groupby("label").sum()


def _charge_label(index: pd.DatetimeIndex, zone: str, by: str, first: date) -> np.ndarray:
    """Demand charges are at the month start; in a day report, the range's first day when
    the month started before it."""
    local = index.tz_convert(zone)
    if by == "month":
        return labels(index, zone, by)
    days = [max(d, first).isoformat() for d in local.date]
    return np.array(days, dtype=object)


def _charge_rows(charges: pd.DataFrame, zone: str, by: str, first: date) -> pd.DataFrame:
    daily = charges[charges["charge"] == DAILY]
    demand = charges[charges["charge"] == DEMAND]
    fixed = pd.DataFrame({"fixed_charges": daily["amount"].to_numpy(dtype="float64"),
                          "label": labels(daily.index, zone, by)})
    peak = pd.DataFrame({"demand_charges": demand["amount"].to_numpy(dtype="float64"),
                         "baseline_demand": demand["baseline_amount"].to_numpy(dtype="float64"),
                         "label": _charge_label(demand.index, zone, by, first)})
    return pd.concat([fixed.groupby("label").sum(), peak.groupby("label").sum()], axis=1)


def in_days(index: pd.DatetimeIndex, zone: str, first: date, last: date) -> np.ndarray:
    local = np.asarray(index.tz_convert(zone).date, dtype=object)
    return (local >= first) & (local <= last) if len(local) else np.zeros(0, dtype=bool)


def months_touching(index: pd.DatetimeIndex, zone: str, first: date, last: date) -> np.ndarray:
    local = np.asarray(index.tz_convert(zone).date, dtype=object)
    return (local >= first.replace(day=1)) & (local <= last) if len(local) else np.zeros(
        0, dtype=bool)


def table(values: pd.DataFrame, charges: pd.DataFrame, zone: str, by: str, first: date,
          last: date) -> pd.DataFrame:
    """One row per label with every column of ``COLUMNS`` (0 where nothing happened)."""
    energy = _energy_rows(values[in_days(values.index, zone, first, last)], zone, by)
    daily = charges[(charges["charge"] == DAILY).to_numpy()
                    & in_days(charges.index, zone, first, last)]
    demand = charges[(charges["charge"] == DEMAND).to_numpy()
                     & months_touching(charges.index, zone, first, last)]
    rows = pd.concat([energy, _charge_rows(pd.concat([daily, demand]), zone, by, first)],
                     axis=1).fillna(0.0).sort_index()
    for name in ("imported_kwh", "exported_kwh", "import_cost", "export_credit", "energy_net",
                 "energy_baseline", "fixed_charges", "demand_charges", "baseline_demand"):
        if name not in rows:
            rows[name] = 0.0
    rows["net_cost"] = rows["energy_net"] + rows["fixed_charges"] + rows["demand_charges"]
    rows["baseline_cost"] = (rows["energy_baseline"] + rows["fixed_charges"]
                             + rows["baseline_demand"])
    rows["savings"] = rows["baseline_cost"] - rows["net_cost"]
    return rows[list(COLUMNS)]


def build(site_id: int, currency: str, values: pd.DataFrame, charges: pd.DataFrame, *,
          zone: str, by: str, first: date, last: date, payback: Payback | None = None,
          notes: list[str] | None = None) -> Report:
    """The report of first..last. With ``payback``, ``values``/``charges`` must reach back to
    the installation day (cumulative savings count from there)."""
    rows = table(values, charges, zone, by, first, last)
    total = {name: float(rows[name].sum()) for name in COLUMNS}
    report = Report(site_id, currency, by, first, last, zone,
                    [{"period": label, **{k: float(v) for k, v in row.items()}}
                     for label, row in rows.iterrows()],
                    {"period": "total", **total}, list(notes or []))
    if payback is not None:
        _add_payback(report, values, charges, payback)
    return report


def _add_payback(report: Report, values: pd.DataFrame, charges: pd.DataFrame,
                 payback: Payback) -> None:
    start = min(payback.installed, report.first)
    daily = table(values, charges, report.zone, "day", start, report.last)["savings"]
    daily.index = [date.fromisoformat(label) for label in daily.index]
    cumulative = daily.cumsum()
    for row in report.rows:
        upto = [d for d in cumulative.index if d.isoformat()[:len(row["period"])]
                <= row["period"]]
        row[CUMULATIVE] = float(cumulative[upto[-1]]) if upto else 0.0
    saved = float(cumulative.iloc[-1]) if len(cumulative) else 0.0
    report.total[CUMULATIVE] = saved
    report.payback = _estimate(payback, daily, cumulative, saved)


def _estimate(payback: Payback, daily: pd.Series, cumulative: pd.Series,
              saved: float) -> dict[str, Any]:
    """Paid back on the first day the cumulative savings reached the price; else the
    remaining amount at the average daily savings of the last 365 days with data."""
    out: dict[str, Any] = {"system_price": payback.system_price,
                           "installed": payback.installed.isoformat(),
                           "saved_so_far": saved,
                           "remaining": max(0.0, payback.system_price - saved)}
    reached = cumulative[cumulative >= payback.system_price]
    if len(reached):
        out.update(paid_back_on=reached.index[0].isoformat(), estimated_payback=None)
        return out
    recent = daily.iloc[-365:]
    rate = float(recent.mean()) if len(recent) else 0.0
    out["savings_per_day"] = rate
    if rate > 0 and len(cumulative):
        days = math.ceil((payback.system_price - saved) / rate)
        out["estimated_payback"] = (cumulative.index[-1] + timedelta(days=days)).isoformat()
    else:
        out["estimated_payback"] = None
    out["paid_back_on"] = None
    return out


# --- notes ----------------------------------------------------------------------------------


def _when(index: pd.DatetimeIndex, zone: str) -> str:
    return index.tz_convert(zone).strftime("%Y-%m-%d %H:%M")[0]


def notes(values: pd.DataFrame, fresh: BucketCosts, *, zone: str, first: date, last: date,
          today: date) -> list[str]:
    """What the reader must know about the range: assumed tariffs, prices priced under an
    older timeline, unpriced buckets, negative or buy < sell prices, days without data."""
    out: list[str] = []
    data = fresh.data
    out += _assumed_notes(fresh, zone)
    if "tariff_sha256" in values and len(values):
        shared = values.index.intersection(data.index)
        older = (values.loc[shared, "tariff_sha256"].astype(str).to_numpy()
                 != data.loc[shared, "tariff_sha256"].astype(str).to_numpy())
        if older.any():
            out.append(f"{int(older.sum())} buckets were priced under an older tariff timeline; "
                       "run 'tesla-energy cost --recompute' for this range to reprice them")
    if fresh.unpriced:
        periods = (sorted(set(data.loc[data["buy_price"].isna(), "period"].astype(str)) - {""})
                   if "period" in data else [])
        out.append(f"{fresh.unpriced} buckets have no buy price in their tariff"
                   + (f" (period {', '.join(periods)})" if periods else "")
                   + " and are not priced")
    out += _price_notes(values)
    out += _missing_days(data.index, zone, first, min(last, today))
    currencies = sorted({str(c) for c in values.get("currency", pd.Series([])).dropna()})
    if len(currencies) > 1:
        out.append(f"the range mixes currencies ({', '.join(currencies)}); amounts are added "
                   "as they are")
    return out


def _assumed_notes(fresh: BucketCosts, zone: str) -> list[str]:
    """One note per run of consecutive buckets priced by an assumed version."""
    data = fresh.data
    flags = data["assumed"].to_numpy(dtype=bool)
    if not flags.any():
        return []
    versions = data["version"].to_numpy()
    key = np.where(flags, versions, -1)
    starts = np.flatnonzero(np.diff(np.concatenate(([-2], key))) != 0)
    out = []
    for begin, end in zip(starts, [*starts[1:], len(key)], strict=True):
        if key[begin] < 0:
            continue
        title = fresh.timeline.versions[int(key[begin])].title()
        out.append(f"{end - begin} buckets from {_when(data.index[begin:begin + 1], zone)} to "
                   f"{_when(data.index[end - 1:end], zone)} were priced with {title}, the "
                   "nearest known tariff version: no version was known for them (declare the "
                   "right one with 'tesla-energy tariff use')")
    return out


def _price_notes(values: pd.DataFrame) -> list[str]:
    if not len(values):
        return []
    buy = values["buy_price"].to_numpy(dtype="float64")
    sell = values["sell_price"].to_numpy(dtype="float64")
    out = []
    negative = int(((buy < 0) | (sell < 0)).sum())
    if negative:
        out.append(f"{negative} buckets had a negative price; priced as the tariff says (Tesla "
                   "rounds negative prices to 0 when the tariff is set on the site)")
    below = int((buy < sell).sum())
    if below:
        out.append(f"{below} buckets had a buy price below the sell price; priced as the "
                   "tariff says (Tesla raises such buy prices to the sell price)")
    return out


def _missing_days(index: pd.DatetimeIndex, zone: str, first: date, last: date) -> list[str]:
    if last < first:
        return []
    present = set(index.tz_convert(zone).date) if len(index) else set()
    missing = [first + timedelta(days=i) for i in range((last - first).days + 1)
               if first + timedelta(days=i) not in present]
    if not missing:
        return []
    shown = ", ".join(d.isoformat() for d in missing[:3]) + (", ..." if len(missing) > 3 else "")
    return [f"{len(missing)} day(s) of the range have no energy history ({shown}); import them "
            "with 'tesla-energy backfill --missing'"]


# --- output -------------------------------------------------------------------------------


def _columns(report: Report) -> list[str]:
    return ["period", *COLUMNS, *([CUMULATIVE] if report.payback is not None else [])]


def as_json(report: Report) -> str:
    document = {
        "site_id": report.site_id, "currency": report.currency, "by": report.by,
        "start": report.first.isoformat(), "end": report.last.isoformat(),
        "time_zone": report.zone, "rows": report.rows, "total": report.total,
        "payback": report.payback, "notes": report.notes,
    }
    return json.dumps(document, indent=2) + "\n"


def as_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = _columns(report)
    writer.writerow(columns)
    for row in [*report.rows, report.total]:
        writer.writerow([row.get(c) if c == "period" else _plain(row.get(c)) for c in columns])
    return out.getvalue()


def _plain(value: Any) -> str:
    return "" if value is None else f"{value:.6f}"


_HEADINGS = {"period": "", "imported_kwh": "import kWh", "exported_kwh": "export kWh",
             "import_cost": "import", "export_credit": "export credit",
             "fixed_charges": "fixed", "demand_charges": "demand", "net_cost": "net",
             "baseline_cost": "baseline", "savings": "savings", CUMULATIVE: "cumulative"}


def as_table(report: Report) -> str:
    columns = _columns(report)
    head = [_HEADINGS[c] or report.by for c in columns]
    body = [[str(row["period"]), *(f"{row[c]:.2f}" for c in columns[1:])]
            for row in [*report.rows, report.total]]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(columns))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    title = (f"Site {report.site_id}: energy cost {report.first} .. {report.last} by "
             f"{report.by}, amounts in {report.currency or '(no currency)'}, days in "
             f"{report.zone}")
    lines = [title, line(head), *(line(r) for r in body[:-1])]
    lines += ["-" * len(lines[1]), line(body[-1])]
    lines += _payback_lines(report)
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines) + "\n"


def _payback_lines(report: Report) -> list[str]:
    p = report.payback
    if p is None:
        return []
    head = (f"payback: system price {p['system_price']:.2f}, installed {p['installed']}, "
            f"saved so far {p['saved_so_far']:.2f}")
    if p.get("paid_back_on"):
        return [f"{head}: paid back on {p['paid_back_on']}"]
    if p.get("estimated_payback"):
        return [f"{head}, {p['remaining']:.2f} to go at {p['savings_per_day']:.2f} per day "
                f"(average of the last 365 days): estimated payback {p['estimated_payback']}"]
    return [f"{head}: no payback at the current savings rate"]


def format_report(report: Report, fmt: str) -> str:
    return {"table": as_table, "csv": as_csv, "json": as_json}[fmt](report)
