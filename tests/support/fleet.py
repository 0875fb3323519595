"""Recorded-shape Fleet API payloads and ``httpx.MockTransport`` fakes that serve them.

Payloads live in ``tests/fixtures/*.json`` with the real ``{"response": ...}`` envelope and the
quirks (sparse fields, nulls, offsets). ``fleet_transport`` serves fixed routes by path;
``FleetMock`` serves the fixtures by endpoint, lets a test queue scripted answers (status,
headers, raw body) per endpoint, issues and rotates OAuth tokens like Tesla, and records every
request. Both fake the Fleet API at the HTTP boundary only; everything behind it (client,
retries, tokens, parsing) is the real product code.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

Route = Any  # a JSON-able payload, an httpx.Response, or a callable(request) -> either


def load_payload(name: str) -> Any:
    """The decoded JSON of ``tests/fixtures/<name>`` (``.json`` may be left off)."""
    path = FIXTURES / (name if name.endswith(".json") else f"{name}.json")
    return json.loads(path.read_text())


def fleet_transport(routes: Mapping[str, Route],
                    requests: list[httpx.Request] | None = None) -> httpx.MockTransport:
    """Serve ``routes`` keyed by URL path (e.g. ``/api/1/energy_sites/1/live_status``).

    A value is a payload (served as JSON 200), an ``httpx.Response``, or a callable taking the
    request. Unknown paths get 404 with Tesla's error body. Every request is appended to
    ``requests`` when given.
    """

    def handler(request: httpx.Request) -> httpx.Response:
        if requests is not None:
            requests.append(request)
        route = routes.get(request.url.path)
        if route is None:
            return httpx.Response(404, json={"response": None, "error": "not_found",
                                             "error_description": ""})
        result = route(request) if callable(route) else route
        return result if isinstance(result, httpx.Response) else httpx.Response(200, json=result)

    return httpx.MockTransport(handler)


#: The fixture each endpoint answers with when nothing is scripted.
ENDPOINT_FIXTURES = {
    "products": "products",
    "live_status": "live_status_pypowerwall",
    "site_info": "site_info",
}


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
        if name in ENDPOINT_FIXTURES:
            return httpx.Response(200, json=load_payload(ENDPOINT_FIXTURES[name]))
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
