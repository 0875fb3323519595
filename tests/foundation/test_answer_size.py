"""Bounded answers (issue 11 part 5, case 7): a gzip bomb or an oversized body is refused at
the endpoint's size limit while it is read — one line, exit 1, memory bounded — never a
``MemoryError``; ordinary compressed answers still decode."""

from __future__ import annotations

import json
import tracemalloc
import zlib

import httpx
import pytest

from collector.cli import main
from collector.errors import InvalidResponse
from collector.source import FleetClient, TokenManager
from collector.source.client import DEFAULT_MAX_ANSWER_BYTES
from tests.support.badserver import answering

SITE = 1


def _gzip(chunks: int, chunk: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    return b"".join(packer.compress(chunk) for _ in range(chunks)) + packer.flush()


def _client(url: str) -> FleetClient:
    tokens = TokenManager(auth_url="https://auth.test/oauth2/v3/token", client_id="",
                          access_token="access-token-1", http=httpx.Client())
    return FleetClient(url, tokens, max_retries=0)


def test_a_gzip_bomb_is_refused_at_the_limit_with_bounded_memory() -> None:
    bomb = _gzip(256, b"\0" * (1 << 20))  # ~250 kB on the wire, 256 MiB unpacked
    with answering(200, bomb, {"Content-Encoding": "gzip"}) as url:
        tracemalloc.start()
        try:
            with pytest.raises(InvalidResponse, match=r"live_status: answer larger than 4 MB"):
                _client(url).live_status(SITE)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 32 << 20, f"peak {peak >> 20} MB while refusing a 256 MiB bomb"


def test_an_oversized_plain_body_is_refused_before_it_is_read() -> None:
    body = b'{"response": "' + b"x" * (DEFAULT_MAX_ANSWER_BYTES + 1) + b'"}'
    with answering(200, body) as url, \
            pytest.raises(InvalidResponse, match="site_info: answer larger than 4 MB refused"):
        _client(url).site_info(SITE)


def test_a_compressed_answer_within_the_limit_decodes() -> None:
    payload = {"response": {"solar_power": 1234, "percentage_charged": 55.5}}
    with answering(200, _gzip(1, json.dumps(payload).encode()),
                   {"Content-Encoding": "gzip"}) as url:
        assert _client(url).live_status(SITE) == payload["response"]


def test_status_on_a_bomb_is_one_line_and_exit_1(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("TESLA_ACCESS_TOKEN", "access-token-1")
    monkeypatch.setenv("COLLECTOR_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("TESLA_MAX_RETRIES", "0")
    for name in ("TESLA_REFRESH_TOKEN", "COLLECTOR_CONFIG", "TESLA_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    with answering(200, _gzip(64, b"\0" * (1 << 20)), {"Content-Encoding": "gzip"}) as url:
        monkeypatch.setenv("TESLA_API_URL", url)
        code = main(["status", "--site", str(SITE)])
    errors = [line for line in capsys.readouterr().err.splitlines()
              if line.startswith("tesla-energy: error")]
    assert (code, errors) == (1, ["tesla-energy: error: live_status: answer larger than 4 MB "
                                  "refused (not a Fleet API answer)"])


def test_a_corrupt_compressed_answer_is_invalid_not_a_crash() -> None:
    corrupt = _gzip(1, b'{"response": {}}')[:10] + b"\xff" * 64
    with answering(200, corrupt, {"Content-Encoding": "gzip"}) as url, \
            pytest.raises(InvalidResponse, match=r"live_status: answer cannot be decoded"):
        _client(url).live_status(SITE)
