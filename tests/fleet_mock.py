"""A Fleet API fake at the HTTP boundary: ``httpx.MockTransport`` serving recorded-shape payloads.

Routes answer with the JSON files in ``tests/fixtures/fleet/`` (real envelopes and quirks); a
test can queue scripted answers (status, headers, raw body) per endpoint name to drive the
client's error handling. Every request is recorded, including its Authorization header, so
tests can check token use without the token ever being logged by the product.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import httpx

FIXTURES = Path(__file__).parent / "fixtures" / "fleet"


def payload(name: str) -> dict:
    """A recorded-shape payload (with its ``{"response": ...}`` envelope)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


@dataclass
class Scripted:
    status: int = 200
    body: bytes | str | dict | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def to_response(self) -> httpx.Response:
        content = self.body
        if isinstance(content, dict):
            content = json.dumps(content)
        if isinstance(content, str):
            content = content.encode()
        return httpx.Response(self.status, content=content or b"", headers=self.headers)


def endpoint_of(request: httpx.Request) -> str:
    path = request.url.path
    if path.endswith("/oauth2/v3/token"):
        return "oauth_token"
    return path.rstrip("/").rsplit("/", 1)[-1]


class FleetMock:
    """Serves the fixture payloads; ``script(endpoint, *answers)`` queues answers first."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.scripted: dict[str, deque[Scripted]] = defaultdict(deque)
        self.valid_tokens: set[str] | None = None  # None = any bearer token is fine
        self.refresh_tokens: dict[str, int] = {}  # refresh token -> uses
        self._issued = 0

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def script(self, endpoint: str, *answers: Scripted) -> None:
        self.scripted[endpoint].extend(answers)

    def calls(self, endpoint: str) -> list[httpx.Request]:
        return [r for r in self.requests if endpoint_of(r) == endpoint]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        name = endpoint_of(request)
        if self.scripted[name]:
            return self.scripted[name].popleft().to_response()
        if name == "oauth_token":
            return self._token(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.valid_tokens is not None and token not in self.valid_tokens:
            return httpx.Response(401, json={"response": None, "error": "token expired (401)"})
        if (FIXTURES / f"{name}.json").exists():
            return httpx.Response(200, json=payload(name))
        return httpx.Response(404, json={"response": None, "error": "not found"})

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        refresh = form.get("refresh_token", "")
        if form.get("grant_type") != "refresh_token" or refresh not in self.refresh_tokens:
            return httpx.Response(401, json={"error": "login_required"})
        if self.refresh_tokens[refresh] > 0:
            return httpx.Response(
                401, json={"error": "login_required",
                           "error_description": "refresh_token has already been used"}
            )
        self.refresh_tokens[refresh] += 1
        self._issued += 1
        access, new_refresh = f"access-{self._issued}-xyzzy", f"refresh-{self._issued}-plugh"
        self.refresh_tokens[new_refresh] = 0
        if self.valid_tokens is not None:
            self.valid_tokens.add(access)
        body = {"access_token": access, "refresh_token": new_refresh, "expires_in": 28800,
                "token_type": "Bearer"}
        return httpx.Response(200, json=body)
