"""``check-config``: the first line is the verdict (a missing Tesla credential, not
"configuration OK"), and it shows where tokens really come from."""

from __future__ import annotations

import pytest

from collector.cli import main
from collector.commands.check_config import MISSING_CREDENTIAL


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ("TESLA_ACCESS_TOKEN", "TESLA_REFRESH_TOKEN", "TESLA_CLIENT_ID",
                 "TESLA_TOKEN_FILE", "COLLECTOR_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLLECTOR_STATE_DIR", str(tmp_path))


def _lines(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_missing_credential_is_the_first_line_and_exit_2(capsys):
    assert main(["check-config"]) == 2
    lines = _lines(capsys)
    assert lines[0] == f"configuration incomplete (defaults + environment): {MISSING_CREDENTIAL}"
    assert lines[1] == "  tokens from: nowhere"


def test_refresh_token_without_client_id_is_one_error_line(monkeypatch, capsys):
    monkeypatch.setenv("TESLA_REFRESH_TOKEN", "NA_refresh-token-1234")
    assert main(["check-config"]) == 2
    assert capsys.readouterr().err.strip().startswith(
        "tesla-energy: error: tesla.client_id is empty but a refresh token is set; set "
        "TESLA_CLIENT_ID")


def test_refresh_token_and_client(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("TESLA_REFRESH_TOKEN", "NA_refresh-token-1234")
    monkeypatch.setenv("TESLA_CLIENT_ID", "my-app")
    assert main(["check-config"]) == 0
    lines = _lines(capsys)
    assert lines[0] == "configuration OK (defaults + environment)"
    assert lines[1] == ("  tokens from: TESLA_REFRESH_TOKEN, renewed by client my-app; "
                        f"rotations saved in {tmp_path / 'tokens.json'}")


def test_existing_token_file_takes_precedence_and_is_shown(monkeypatch, tmp_path, capsys):
    (tmp_path / "tokens.json").write_text('{"access_token": "a", "refresh_token": "r"}')
    monkeypatch.setenv("TESLA_REFRESH_TOKEN", "NA_refresh-token-1234")
    monkeypatch.setenv("TESLA_CLIENT_ID", "my-app")
    assert main(["check-config"]) == 0
    lines = _lines(capsys)
    assert lines[0] == "configuration OK (defaults + environment)"
    assert lines[1] == (f"  tokens from: {tmp_path / 'tokens.json'} (rotated tokens; takes "
                        "precedence over TESLA_ACCESS_TOKEN and TESLA_REFRESH_TOKEN)")
    token_file = next(line for line in lines if "tesla.token_file" in line)
    assert token_file.split(None, 1)[1] == f"{tmp_path / 'tokens.json'} (default)"
