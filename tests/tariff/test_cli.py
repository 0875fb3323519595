"""``tesla-energy tariff validate`` and ``tariff price``: output and exit codes."""

from __future__ import annotations

import json

import pytest

from collector.cli import main
from tests.tariff.support import FIXTURES, doc

THREE = str(FIXTURES / "three_season.json")


@pytest.fixture(autouse=True)
def _no_config(monkeypatch):
    monkeypatch.delenv("COLLECTOR_CONFIG", raising=False)
    monkeypatch.delenv("TESLA_TIME_ZONE", raising=False)


def _write(tmp_path, document) -> str:
    path = tmp_path / "tariff.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def test_validate_valid_file_exits_0(capsys):
    assert main(["tariff", "validate", THREE]) == 0
    assert capsys.readouterr().out.strip().endswith("valid (0 error(s), 0 warning(s))")


def test_validate_with_warnings_only_exits_0(capsys):
    assert main(["tariff", "validate", str(FIXTURES / "wrap_year.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("warning: period labels PEAK_FREE")


def test_validate_lists_every_problem_and_exits_2(tmp_path, capsys):
    document = doc("three_season")
    document["currency"] = "AUD"
    document["seasons"]["Summer"]["toDay"] = 15
    document["energy_charges"]["Winter"]["rates"]["SUPER_OFF_PEAK"] = -1
    assert main(["tariff", "validate", _write(tmp_path, document)]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("error: currency is 'AUD'")
    assert "error: no season covers Sep 16 - Sep 30" in lines
    assert any(line.startswith("warning:") and "negative" in line for line in lines)
    assert lines[-1].endswith("invalid (2 error(s), 1 warning(s))")


@pytest.mark.parametrize(("content", "needle"), [
    ('{"seasons": ', "not valid JSON"),
    ('{"seasons": {"S": []}}', "seasons.S must be a JSON object, not a list"),
    ("[1, 2]", "must be a JSON object"),
])
def test_malformed_file_is_one_line_exit_2(tmp_path, capsys, content, needle):
    assert main(["tariff", "validate", _write(tmp_path, content)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and needle in captured.err


def test_missing_file_is_one_line_exit_2(tmp_path, capsys):
    assert main(["tariff", "validate", str(tmp_path / "nope.json")]) == 2
    assert "cannot read tariff file" in capsys.readouterr().err


def test_price_at_wall_time_in_zone(capsys):
    assert main(["tariff", "price", "--at", "2024-07-01T16:00", "--time-zone",
                 "America/Los_Angeles", THREE]) == 0
    out = capsys.readouterr().out
    assert out == ("2024-07-01T16:00:00-07:00 (America/Los_Angeles): season Summer, period "
                   "ON_PEAK, buy 0.5500 USD/kWh, sell 0.1000 USD/kWh\n")


def test_price_at_instant_with_offset_is_converted_to_the_zone(capsys):
    assert main(["tariff", "price", "--at", "2024-07-01T23:00Z", "--time-zone",
                 "America/Los_Angeles", THREE]) == 0
    assert "2024-07-01T16:00:00-07:00" in capsys.readouterr().out


def test_price_at_an_instant_with_an_offset_needs_no_time_zone(monkeypatch, capsys):
    """The README: a timestamp with an offset is an instant; its offset is the wall clock."""
    monkeypatch.delenv("TESLA_TIME_ZONE", raising=False)
    monkeypatch.delenv("COLLECTOR_CONFIG", raising=False)
    assert main(["tariff", "price", "--at", "2024-07-01T16:00-07:00", THREE]) == 0
    assert capsys.readouterr().out == (
        "2024-07-01T16:00:00-07:00 (UTC-07:00): season Summer, period ON_PEAK, "
        "buy 0.5500 USD/kWh, sell 0.1000 USD/kWh\n")


def test_price_zone_from_configuration(monkeypatch, capsys):
    monkeypatch.setenv("TESLA_TIME_ZONE", "Europe/London")
    assert main(["tariff", "price", "--at", "2024-07-01T16:00", THREE]) == 0
    assert "(Europe/London)" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "needle"), [
    (["--at", "2024-11-03T01:30", "--time-zone", "America/Los_Angeles"], "ambiguous"),
    (["--at", "2024-03-10T02:30", "--time-zone", "America/Los_Angeles"], "does not exist"),
    (["--at", "yesterday", "--time-zone", "UTC"], "not an ISO 8601 timestamp"),
    (["--at", "2024-07-01T16:00", "--time-zone", "Mars/Olympus"], "not an IANA time zone"),
    (["--at", "2024-07-01T16:00"], "no time zone"),
])
def test_price_bad_input_is_one_line_exit_2(capsys, args, needle):
    assert main(["tariff", "price", *args, THREE]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err


def test_price_refuses_an_invalid_tariff(tmp_path, capsys):
    document = doc("three_season")
    document["seasons"]["Summer"]["toDay"] = 15
    path = _write(tmp_path, document)
    assert main(["tariff", "price", "--at", "2024-07-01T16:00", "--time-zone", "UTC", path]) == 2
    assert "not a valid tariff" in capsys.readouterr().err
