"""``tesla-energy cost``, ``tariff history`` and ``tariff use`` end to end: the simulator as
the Fleet API, the real influxd, the commands run as a user runs them."""

from __future__ import annotations

import json
from datetime import date

import pytest

from collector.backfill.windows import day_start
from collector.cli import main
from tests.cost import oracle
from tests.cost.support import FIXTURES

FLAT = str(FIXTURES / "flat.json")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("argv", "message"), [
    (["cost", "--start", "2024-13-01"], "is not a date"),
    (["cost", "--by", "week"], "invalid choice: 'week'"),
    (["cost", "--format", "xml"], "invalid choice: 'xml'"),
    (["cost", "--start", "2024-03-10", "--end", "2024-03-01"], "is after --end"),
    (["cost", "--system-price", "-5"], "must be a number greater than 0"),
    (["tariff", "use", FLAT, "--from", "2024-01-01"], "tariff use needs --site ID"),
    (["tariff", "use", FLAT, "--site", "1", "--from", "2024-02-01", "--to", "2024-01-01"],
     "is before --from"),
    (["tariff", "use", "/nonexistent.json", "--site", "1", "--from", "2024-01-01"],
     "cannot read tariff file"),
    (["tariff", "use", FLAT, "--site", "1"], "--from"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys, monkeypatch):
    monkeypatch.setenv("TESLA_API_URL", "http://127.0.0.1:9")  # never contacted
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(main(argv))
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_an_invalid_tariff_file_is_refused_before_anything_is_stored(tmp_path, capsys,
                                                                     monkeypatch):
    monkeypatch.setenv("TESLA_API_URL", "http://127.0.0.1:9")
    document = json.loads((FIXTURES / "flat.json").read_text())
    document["currency"] = "DOGE"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    code, _, err = run_cli(capsys, "tariff", "use", str(path), "--site", "1", "--from",
                           "2024-01-01")
    assert code == 2 and "is not a valid tariff" in err and "currency" in err


def _sums(influxd, db: str, site: int, first: date, last: date) -> dict[str, float]:
    lo = int(day_start(first, oracle.ZONE).timestamp())
    hi = int(day_start(date.fromordinal(last.toordinal() + 1), oracle.ZONE).timestamp())
    where = f"site_id = '{site}' AND time >= {lo}s AND time < {hi}s"
    (energy,) = influxd.query(
        "SELECT sum(import_cost) AS import_cost, sum(export_credit) AS export_credit, "
        f"sum(net_cost) AS net_cost, sum(baseline_cost) AS baseline_cost FROM energy_cost "
        f"WHERE {where}", db=db)
    (history,) = influxd.query("SELECT sum(grid_energy_imported) AS imported FROM "
                               f"energy_history WHERE {where}", db=db)
    charges = {}
    for kind in ("daily", "demand"):
        rows = influxd.query("SELECT sum(amount) AS amount, sum(baseline_amount) AS baseline "
                             f"FROM energy_cost_charges WHERE {where} AND charge = '{kind}'",
                             db=db)
        charges[kind] = rows[0] if rows else {"amount": 0.0, "baseline": 0.0}
    return {**energy, "imported": history["imported"], "fixed": charges["daily"]["amount"],
            "demand": charges["demand"]["amount"], "baseline_demand":
            charges["demand"]["baseline"]}


@pytest.mark.integration
def test_month_report_totals_equal_the_stored_points_plus_charges(cli_env, site, influxd,
                                                                  influx_db, capsys):
    assert run_cli(capsys, "backfill", "--start", "2024-07-01", "--end", "2024-08-05",
                   "--kind", "energy")[0] == 0
    code, out, _ = run_cli(capsys, "cost", "--by", "month", "--start", "2024-07-01", "--end",
                           "2024-08-05", "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert [r["period"] for r in report["rows"]] == ["2024-07", "2024-08"]
    total, sums = report["total"], _sums(influxd, influx_db, site, date(2024, 7, 1),
                                         date(2024, 8, 5))
    assert sums["demand"] > 0 and sums["fixed"] == pytest.approx(36 * 0.75)
    assert total["import_cost"] == pytest.approx(sums["import_cost"], abs=1e-9)
    assert total["export_credit"] == pytest.approx(sums["export_credit"], abs=1e-9)
    assert total["fixed_charges"] == pytest.approx(sums["fixed"], abs=1e-9)
    assert total["demand_charges"] == pytest.approx(sums["demand"], abs=1e-9)
    assert total["net_cost"] == pytest.approx(sums["net_cost"] + sums["fixed"]
                                              + sums["demand"], abs=1e-9)
    assert total["baseline_cost"] == pytest.approx(
        sums["baseline_cost"] + sums["fixed"] + sums["baseline_demand"], abs=1e-9)
    assert total["imported_kwh"] == pytest.approx(sums["imported"] / 1000, abs=1e-9)
    assert report["currency"] == "USD" and report["time_zone"] == oracle.ZONE.key
    assert any("were priced with Three season" in n for n in report["notes"])  # assumed


@pytest.mark.integration
def test_tariff_use_then_recompute_reprices_only_the_declared_range(cli_env, site, influxd,
                                                                    influx_db, capsys):
    assert run_cli(capsys, "backfill", "--start", "2024-07-15", "--end", "2024-07-17",
                   "--kind", "energy")[0] == 0
    code, out, _ = run_cli(capsys, "tariff", "use", FLAT, "--site", str(site), "--from",
                           "2024-07-16", "--to", "2024-07-16")
    assert code == 0 and "nothing was sent to Tesla" in out and "--recompute" in out
    code, out, _ = run_cli(capsys, "tariff", "history", "--site", str(site))
    assert code == 0
    assert "2024-07-16 00:00  2024-07-17 00:00  file" in out and "site_info" in out

    def points(day: int) -> list[dict]:
        lo = int(day_start(date(2024, 7, day), oracle.ZONE).timestamp())
        return influxd.query(f"SELECT * FROM energy_cost WHERE time >= {lo}s AND time < "
                             f"{lo + 86400}s", db=influx_db)

    before = points(16)
    code, out, _ = run_cli(capsys, "cost", "--start", "2024-07-15", "--end", "2024-07-17",
                           "--format", "json")
    assert code == 0
    assert any("older tariff timeline" in n for n in json.loads(out)["notes"])
    assert points(16) == before  # a report alone never reprices stored points
    code, out, _ = run_cli(capsys, "cost", "--start", "2024-07-16", "--end", "2024-07-16",
                           "--recompute", "--format", "json")
    assert code == 0
    repriced = points(16)
    assert len(repriced) == 288 and {p["buy_price"] for p in repriced} == {0.3}
    assert {p["sell_price"] for p in repriced} == {0.05}
    for point, old in zip(repriced, before, strict=True):
        imported = old["import_cost"] / old["buy_price"]
        assert abs(point["import_cost"] - imported * 0.3) <= 1e-9
    assert {p["buy_price"] for p in points(15)} >= {0.55, 0.33}  # outside: untouched
    report = json.loads(out)
    assert not any("older tariff timeline" in n for n in report["notes"])
    assert report["total"]["import_cost"] == pytest.approx(
        sum(p["import_cost"] for p in repriced), abs=1e-9)
    assert report["total"]["fixed_charges"] == 0.0  # the flat tariff has no fixed charge


@pytest.mark.integration
def test_csv_report_with_a_payback_estimate(cli_env, site, monkeypatch, capsys):
    assert run_cli(capsys, "backfill", "--start", "2024-07-15", "--end", "2024-07-16",
                   "--kind", "energy")[0] == 0
    monkeypatch.setenv("COLLECTOR_SYSTEM_PRICE", "15000")
    monkeypatch.setenv("COLLECTOR_INSTALLATION_DATE", "2024-07-15")
    code, out, err = run_cli(capsys, "cost", "--start", "2024-07-16", "--end", "2024-07-16",
                             "--format", "csv")
    assert code == 0
    header, row, total = out.splitlines()
    assert header.endswith(",savings,cumulative_savings")
    assert row.startswith("2024-07-16,") and total.startswith("total,")
    first_day = float(row.split(",")[-2])
    assert float(row.split(",")[-1]) > first_day > 0  # counts 07-15 as well
    assert "note:" in err  # notes go to stderr, the CSV stays clean
    code, out, _ = run_cli(capsys, "cost", "--start", "2024-07-16", "--end", "2024-07-16")
    assert "payback: system price 15000.00, installed 2024-07-15" in out
    assert "estimated payback" in out


@pytest.mark.integration
def test_a_range_without_energy_history_is_a_runtime_failure(cli_env, site, capsys):
    code, out, err = run_cli(capsys, "cost", "--start", "2024-07-01", "--end", "2024-07-02")
    assert code == 1 and out == ""
    assert err.strip().endswith("import it with 'tesla-energy backfill --site "
                                f"{site} --start 2024-07-01 --end 2024-07-02'")
    assert len(err.strip().splitlines()) == 1
