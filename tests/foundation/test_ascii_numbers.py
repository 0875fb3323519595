"""Numbers are ASCII (issue 11, part 8): ``int("٣٥")`` is 35 and ``float("1_0")`` is 10, so
settings and command arguments written with other digits, underscores or ``nan`` are refused
with one line naming them (exit 2) instead of being read as numbers."""

from __future__ import annotations

import pytest

from collector.cli import main
from collector.config import ascii_number, ascii_whole_number, is_ascii_digits, load_settings
from collector.errors import ConfigError

ARABIC_35 = "\u0663\u0665"  # ٣٥


@pytest.mark.parametrize("text", [ARABIC_35, "\u00b2", "1_000", "", " ", "+", "1.0"])
def test_whole_numbers_are_ascii_digits(text):
    with pytest.raises(ValueError):
        ascii_whole_number(text)


@pytest.mark.parametrize("text", [ARABIC_35, "1_0", "nan", "inf", "-Infinity", "1e999", "",
                                  "0x10", "\u0663.5"])
def test_numbers_are_finite_ascii_decimals(text):
    with pytest.raises(ValueError):
        ascii_number(text)


def test_plain_numbers_still_parse():
    assert ascii_whole_number(" 42 ") == 42 and ascii_whole_number("-3") == -3
    assert ascii_number("0.5") == 0.5 and ascii_number("1e3") == 1000.0
    assert ascii_number(".25") == 0.25 and ascii_number("7.") == 7.0
    assert is_ascii_digits("2252000001101") and not is_ascii_digits(ARABIC_35)


@pytest.mark.parametrize(("env", "value"), [
    ("COLLECTOR_LIVE_INTERVAL", "\u0661\u0660"),
    ("COLLECTOR_BACKFILL_RATE", "nan"),
    ("COLLECTOR_BACKFILL_CONCURRENCY", "\u0664"),
    ("COLLECTOR_HEALTH_PORT", "8_080"),
    ("TESLA_SITE_IDS", "\u0661\u0662\u0663"),
])
def test_settings_refuse_non_ascii_numbers(env, value):
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={env: value})
    assert env in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("argv", [
    ["backfill", "--concurrency", "\u0664"],
    ["backfill", "--rate", "nan"],
    ["backfill", "--start", "\u0662\u0660\u0662\u0664-03-10"],
    ["backfill", "--site", "\u0663"],
    ["set", "backup-reserve", ARABIC_35, "--yes"],
    ["set", "ev-reserve", "3_5", "--yes"],
])
def test_command_arguments_refuse_non_ascii_numbers(argv, capsys, monkeypatch):
    monkeypatch.setenv("TESLA_API_URL", "http://127.0.0.1:9")  # never contacted
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error" in err
