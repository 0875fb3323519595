"""A proxy in front of the simulator that rewrites the JSON replies of chosen endpoints.

Hostile-data tests point ``TESLA_API_URL`` at ``RewritingProxy(sim.base_url).url`` and register
``proxy.rewrite("live_status", change)``: every 200 reply of that endpoint is decoded, its
``response`` object handed to ``change(response, query)`` (``query``: the request's query
parameters, one value each), and whatever ``change`` returns is served instead (it may mutate
and return the same object). Everything else passes through untouched, so the product talks
real HTTP to a real simulator and only the reply's content is hostile.

Test support only: no product code imports this.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Change = Callable[[Any, dict[str, str]], Any]
_PASSED_HEADERS = ("Authorization", "Content-Type", "Accept")


class _Handler(BaseHTTPRequestHandler):
    server: RewritingProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        """Quiet."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._forward()

    def do_POST(self) -> None:  # noqa: N802
        self._forward()

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, data, content_type = self.server.upstream(self.command, self.path, body, {
            k: self.headers[k] for k in _PASSED_HEADERS if self.headers.get(k)})
        url = urlsplit(self.path)
        change = self.server.rules.get(url.path.rstrip("/").rsplit("/", 1)[-1])
        if change is not None and status == 200:
            document = json.loads(data)
            document["response"] = change(document["response"], dict(parse_qsl(url.query)))
            data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class RewritingProxy(ThreadingHTTPServer):
    """``with RewritingProxy(sim.base_url) as proxy: proxy.rewrite(endpoint, change)``."""

    daemon_threads = True

    def __init__(self, upstream_url: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        target = urlsplit(upstream_url)
        self._host, self._port = target.hostname or "127.0.0.1", target.port or 80
        self.rules: dict[str, Change] = {}
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def rewrite(self, endpoint: str, change: Change) -> None:
        self.rules[endpoint] = change

    def upstream(self, method: str, path: str, body: bytes,
                 headers: dict[str, str]) -> tuple[int, bytes, str]:
        conn = http.client.HTTPConnection(self._host, self._port, timeout=30)
        try:
            conn.request(method, path, body=body or None, headers=headers)
            response = conn.getresponse()
            return (response.status, response.read(),
                    response.getheader("Content-Type") or "application/json")
        finally:
            conn.close()

    def __enter__(self) -> RewritingProxy:
        self._thread = threading.Thread(target=self.serve_forever, name="rewriting-proxy",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.shutdown()
        self.server_close()
        if self._thread:
            self._thread.join(timeout=10)
