"""Misbehaving HTTP servers on a free loopback port, for the deadline and rate-limit tests.

``trickling()`` answers every request with a 200 whose body arrives one byte every 0.05 s
(it never completes); ``answering(status, body, headers)`` answers every request the same.
Both are real sockets: the client's whole HTTP stack (httpx, its timeouts) is exercised.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TRICKLE_SECONDS = 0.05


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stopping = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-answer (what a refused or cut-off answer does) is expected;
        say nothing rather than print a traceback into the test's stderr."""


def _handler(answer: Any) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            answer(self)

        do_POST = do_GET  # noqa: N815

        def log_message(self, *_args: Any) -> None:
            return

    return Handler


@contextmanager
def _serve(answer: Any) -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), _handler(answer))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.stopping = True
        server.shutdown()
        server.server_close()


def _trickle(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "1000000")
    handler.end_headers()
    try:
        while not handler.server.stopping:  # type: ignore[attr-defined]
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(TRICKLE_SECONDS)
    except OSError:
        return  # the client gave up and closed the connection


@contextmanager
def trickling() -> Iterator[str]:
    """The base URL of a server that never finishes any answer."""
    with _serve(_trickle) as url:
        yield url


@contextmanager
def answering(status: int, body: bytes, headers: dict[str, str] | None = None) -> Iterator[str]:
    """The base URL of a server answering every request with ``status`` and ``body``."""
    def answer(handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        handler.rfile.read(length)
        handler.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    with _serve(answer) as url:
        yield url
