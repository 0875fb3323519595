"""Bad input to every settings command: one line, exit 2, and not a single request sent."""

from __future__ import annotations

import pytest

from collector.cli import main
from tests.control.conftest import requests_sent

BAD = [
    ["set", "backup-reserve", "101"],
    ["set", "backup-reserve", "-1"],
    ["set", "backup-reserve", "abc"],
    ["set", "backup-reserve", "20.5"],
    ["set", "backup-reserve"],
    ["set", "mode", "backup"],
    ["set", "mode", "SELF_CONSUMPTION"],
    ["set", "storm-mode", "yes"],
    ["set", "grid-import-export"],
    ["set", "grid-import-export", "--grid-charging", "maybe"],
    ["set", "grid-import-export", "--export", "always"],
    ["set", "ev-reserve", "150"],
    ["set", "ev-reserve", "ten"],
    ["set", "backup-reserve", "30", "--site", "abc"],
    ["set", "volume", "11"],
]


@pytest.mark.parametrize("argv", BAD, ids=lambda a: " ".join(a[1:]))
def test_bad_input_exits_2_with_one_line_and_sends_nothing(cli_env, capsys, argv):
    with pytest.raises(SystemExit) as caught:
        main([*argv, "--yes"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err
    assert requests_sent(cli_env) == 0


def test_invalid_tariff_file_exits_2_and_sends_nothing(cli_env, capsys, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"currency": "AUD", "seasons": {}}')
    assert main(["tariff", "set", str(path), "--yes"]) == 2
    captured = capsys.readouterr()
    assert "error: currency is 'AUD'" in captured.out
    assert captured.err.count("\n") == 1 and "nothing was sent" in captured.err
    assert requests_sent(cli_env) == 0


def test_no_terminal_and_no_yes_refuses_before_the_post(cli_env, site_id, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", _Input("", tty=False))
    assert main(["set", "backup-reserve", "35"]) == 2
    assert "pass --yes" in capsys.readouterr().err
    assert requests_sent(cli_env, "backup") == 0
    assert cli_env.site_info(site_id)["backup_reserve_percent"] == 20


def test_answering_no_changes_nothing(cli_env, site_id, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", _Input("n\n", tty=True))
    assert main(["set", "backup-reserve", "35"]) == 2
    assert "cancelled" in capsys.readouterr().err
    assert requests_sent(cli_env, "backup") == 0


class _Input:
    def __init__(self, text: str, tty: bool) -> None:
        self._text, self._tty = text, tty

    def isatty(self) -> bool:
        return self._tty

    def readline(self) -> str:
        return self._text
