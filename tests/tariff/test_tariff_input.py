"""Hostile tariff files (issue 11, case 12): NaN, Infinity and absurd prices, binary, huge and
deeply nested files, non-ASCII digits. Each is one line and exit 2, and nothing reaches the
``time_of_use_settings`` POST (``tariff set --dry-run`` against the simulator)."""

from __future__ import annotations

import json

import pytest

from collector.cli import main
from collector.sim import SimConfig, SimServer
from tests.tariff.support import FIXTURES, doc

FLAT = (FIXTURES / "flat.json").read_text()


@pytest.fixture(autouse=True)
def _no_config(monkeypatch):
    monkeypatch.delenv("COLLECTOR_CONFIG", raising=False)
    monkeypatch.delenv("TESLA_TIME_ZONE", raising=False)


def _file(tmp_path, content: str | bytes) -> str:
    path = tmp_path / "tariff.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def _one_line_exit_2(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    return captured.err


@pytest.mark.parametrize(("token", "needle"), [
    ("NaN", "NaN is not a number JSON allows"),
    ("Infinity", "Infinity is not a number JSON allows"),
    ("-Infinity", "-Infinity is not a number JSON allows"),
    ("1e999", "the number 1e999 is not a finite ASCII number"),
    ("-1e999", "the number -1e999 is not a finite ASCII number"),
    ("1" * 40, "is not an ASCII number of at most 30 digits"),
])
def test_non_finite_prices_are_one_line_exit_2(tmp_path, capsys, token, needle):
    content = FLAT.replace('"ALL": 0.3', f'"ALL": {token}')
    assert content != FLAT
    err = _one_line_exit_2(capsys, ["tariff", "validate", _file(tmp_path, content)])
    assert needle in err


@pytest.mark.parametrize(("price", "unit"), [(1e308, "kWh"), (-1e308, "kWh"), (150.0, "kWh")])
def test_absurd_prices_are_validation_errors(tmp_path, capsys, price, unit):
    document = doc("flat")
    document["energy_charges"]["ALL"]["rates"]["ALL"] = price
    assert main(["tariff", "validate", _file(tmp_path, json.dumps(document))]) == 2
    out = capsys.readouterr().out
    assert f"price {price:g} is beyond 100 per {unit} either way" in out
    assert out.splitlines()[-1].endswith("invalid (1 error(s), 0 warning(s))") or price < 0


def test_an_absurd_demand_charge_is_an_error_per_kw(tmp_path, capsys):
    document = doc("flat")
    document["demand_charges"] = {"ALL": {"rates": {"ALL": 1e308}}}
    assert main(["tariff", "validate", _file(tmp_path, json.dumps(document))]) == 2
    assert "demand_charges: season ALL, period ALL: price 1e+308 is beyond 100 per kW" in \
        capsys.readouterr().out


def test_a_price_of_100_is_still_valid(tmp_path, capsys):
    document = doc("flat")
    document["energy_charges"]["ALL"]["rates"]["ALL"] = 100
    assert main(["tariff", "validate", _file(tmp_path, json.dumps(document))]) == 0


@pytest.mark.parametrize(("content", "needle"), [
    (bytes(range(256)) * 8, "is not a text file (not UTF-8)"),
    ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
    ('{"seasons": {}, "name": ' + '{"a": ' * 100_000 + "1" + "}" * 100_000 + "}",
     "nested too deeply"),
    ('{"seasons": {}, "name": ' + '{"a": ' * 500 + "1" + "}" * 500 + "}",
     "name must be a string, not an object"),
    (" " * (1 << 20) + "{}", "is larger than 1 MiB"),
    (FLAT.replace('"toMonth": 12', '"toMonth": \u0661\u0662'), "not valid JSON"),
], ids=["binary", "nested-list", "nested-object", "object-name", "huge", "arabic-digits"])
def test_unusable_files_are_one_line_exit_2(tmp_path, capsys, content, needle):
    err = _one_line_exit_2(capsys, ["tariff", "validate", _file(tmp_path, content)])
    assert needle in err


def test_a_directory_is_one_line_exit_2(tmp_path, capsys):
    assert "cannot read tariff file" in _one_line_exit_2(capsys, ["tariff", "validate",
                                                                  str(tmp_path)])


def test_a_byte_order_mark_is_accepted(tmp_path, capsys):
    assert main(["tariff", "validate", _file(tmp_path, "\ufeff".encode() + FLAT.encode())]) == 0


def test_non_ascii_digits_in_the_price_instant_are_refused(capsys):
    err = _one_line_exit_2(capsys, ["tariff", "price", "--at", "\u0662\u0660\u0662\u0664-07-01",
                                    "--time-zone", "UTC", str(FIXTURES / "flat.json")])
    assert "is not an ISO 8601 timestamp" in err


@pytest.fixture
def sim(monkeypatch, tmp_path):
    with SimServer(SimConfig(sites=1, seed=3, token="tariff-input-token")) as server:
        for name in ("TESLA_SITE_IDS", "TESLA_REFRESH_TOKEN", "INFLUX_URL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("TESLA_API_URL", server.base_url)
        monkeypatch.setenv("TESLA_ACCESS_TOKEN", "tariff-input-token")
        monkeypatch.setenv("TESLA_MAX_RETRIES", "0")
        monkeypatch.setenv("COLLECTOR_STATE_DIR", str(tmp_path / "state"))
        yield server


@pytest.mark.parametrize("price", ["NaN", "1e999", "1e308", "-1e308"])
def test_tariff_set_dry_run_never_builds_a_request_from_an_absurd_price(sim, tmp_path, capsys,
                                                                        price):
    path = _file(tmp_path, FLAT.replace('"ALL": 0.3', f'"ALL": {price}'))
    assert main(["tariff", "set", path, "--dry-run"]) == 2
    captured = capsys.readouterr()
    assert "POST" not in captured.out and "dry run" not in captured.out
    assert captured.err.count("\n") == 1
    assert sim.requests.count("time_of_use_settings") == 0
