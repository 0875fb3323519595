"""A Fleet API that replays the real-shape fixtures of ``tests/fixtures/real`` over HTTP.

``ReplayServer`` serves ``/api/1/products`` and ``/api/1/energy_sites/{id}/{endpoint}`` from a
route table: a route is a fixture name (served as is) or a callable taking the request's
query and returning the decoded JSON to serve. Every request is recorded (``requests``). It
is the Fleet API faked at the HTTP boundary for commands that build their own client (the
CLI); it holds no product logic, only the fixtures and how they are picked.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

REAL = Path(__file__).resolve().parent.parent / "fixtures" / "real"
Route = str | Callable[[dict[str, str]], Any]


def real(name: str) -> Any:
    """The decoded JSON of ``tests/fixtures/real/<name>.json``."""
    return json.loads((REAL / f"{name}.json").read_text())


def by_local_day(replies: Mapping[str, Any], offset_minutes: int,
                 empty: Mapping[str, Any]) -> Callable[[dict[str, str]], Any]:
    """A calendar_history route answering each day request with the reply of the local day
    (at ``offset_minutes``) that contains its ``end_date``, or ``empty`` for other days."""
    zone = timezone(timedelta(minutes=offset_minutes))

    def answer(query: dict[str, str]) -> Any:
        end = datetime.fromisoformat(query["end_date"]).astimezone(zone)
        return replies.get(end.date().isoformat(), empty)

    return answer


def backup_pages(first: Any, second: Any) -> Callable[[dict[str, str]], Any]:
    """A kind=backup route: ``first`` unless ``end_date`` is at or before the first page's
    ``next_end_date``, then ``second``."""
    boundary = datetime.fromisoformat(first["response"]["next_end_date"])

    def answer(query: dict[str, str]) -> Any:
        end = datetime.fromisoformat(query["end_date"])
        return second if end <= boundary else first

    return answer


class ReplayServer:
    """``with ReplayServer({"site_info": "site_info_empty_zone", ...}) as api: api.base_url``."""

    def __init__(self, routes: Mapping[str, Route]) -> None:
        self.routes = dict(routes)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._httpd: ThreadingHTTPServer | None = None

    def __enter__(self) -> ReplayServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                return

            def do_GET(self) -> None:  # noqa: N802 - stdlib naming
                self._answer()

            def do_POST(self) -> None:  # noqa: N802 - stdlib naming
                self._answer()

            def _answer(self) -> None:
                url = urlsplit(self.path)
                query = dict(parse_qsl(url.query))
                status, body = server.answer(url.path, query)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        endpoint = path.rstrip("/").rsplit("/", 1)[-1]
        if endpoint == "calendar_history":
            endpoint = f"calendar_history:{query.get('kind')}"
        self.requests.append((endpoint, query))
        route = self.routes.get(endpoint)
        if route is None:
            return 404, {"response": None, "error": "not_found", "error_description": ""}
        return 200, route(query) if callable(route) else real(route)

    def count(self, endpoint: str) -> int:
        return sum(1 for name, _ in self.requests if name == endpoint)
