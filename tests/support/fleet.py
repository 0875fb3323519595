"""Recorded-shape Fleet API payloads and an ``httpx.MockTransport`` that serves them.

Payloads live in ``tests/fixtures/*.json`` with the real ``{"response": ...}`` envelope and the
quirks (sparse fields, nulls, offsets). The transport fakes the Fleet API at the HTTP boundary
only; everything behind it (client, retries, parsing) is the real product code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
