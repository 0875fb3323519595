"""``tesla-energy backfill`` argument errors: one line, exit 2, before any network access."""

from __future__ import annotations

import pytest

from collector.cli import main


@pytest.mark.parametrize(("argv", "message"), [
    (["--start", "2024-13-01"], "is not a date"),
    (["--end", "yesterday"], "is not a date"),
    (["--start", "2024-03-10", "--end", "2024-03-01"], "is after --end"),
    (["--kind", "energy,power"], "unknown kind power"),
    (["--kind", ","], "unknown kind"),
    (["--concurrency", "0"], "must be 1 or more"),
    (["--concurrency", "two"], "not a whole number"),
    (["--rate", "0"], "greater than 0"),
    (["--site", "abc"], "not a numeric energy_site_id"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys, monkeypatch):
    monkeypatch.setenv("TESLA_API_URL", "http://127.0.0.1:9")  # never contacted
    with pytest.raises(SystemExit) as exited:
        code = main(["backfill", *argv])
        raise SystemExit(code)
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1
