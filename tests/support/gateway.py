"""A v2-to-v1 write gateway for InfluxDB servers older than 1.8 (test harness only).

InfluxDB 1.8 added ``POST /api/v2/write`` as a forward-compatibility API: bucket ``db/rp``,
token ``user:password``. Debian ships influxd 1.6.7, which lacks it, so the test suite puts this
small threaded HTTP server in front and translates

    POST /api/v2/write?org=&bucket=db/rp&precision=s|ms|us|ns
 -> POST /write?db=db&rp=rp&precision=s|ms|u|ns

passing status codes and bodies straight through. ``/ping``, ``/health`` and ``/query`` are
forwarded too (``/health`` is synthesised from ``/ping`` when the server has none), so the
product sees what a 1.8 server would show. It is not product code and must not grow features
the real forward-compatibility layer does not have.
"""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

_V1_PRECISION = {"s": "s", "ms": "ms", "us": "u", "ns": "ns"}
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "server",
                "date"}
_PASSED_REQUEST_HEADERS = ("Content-Type", "Content-Encoding", "Accept", "Accept-Encoding")


def translate_write_query(query: str, authorization: str | None) -> tuple[str | None, str]:
    """Map a v2 write query string to a v1 one. Returns (v1 query, error message)."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    bucket = params.get("bucket", "")
    if not bucket:
        return None, "bucket is required"
    database, _, retention = bucket.partition("/")
    precision = params.get("precision", "ns")
    if precision not in _V1_PRECISION:
        return None, f"invalid precision {precision!r}"
    v1 = {"db": database, "precision": _V1_PRECISION[precision]}
    if retention:
        v1["rp"] = retention
    user, password = _credentials(authorization)
    if user:
        v1.update(u=user, p=password)
    return urlencode(v1), ""


def _credentials(authorization: str | None) -> tuple[str, str]:
    if not authorization:
        return "", ""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() not in ("token", "bearer") or ":" not in token:
        return "", ""
    user, _, password = token.partition(":")
    return user, password


class _Handler(BaseHTTPRequestHandler):
    server: WriteGateway
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        """Quiet: the harness must not spam the test output."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._route()

    def do_HEAD(self) -> None:  # noqa: N802
        self._route()

    def do_POST(self) -> None:  # noqa: N802
        self._route()

    def _route(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        if url.path == "/api/v2/write" and self.command == "POST":
            query, error = translate_write_query(url.query, self.headers.get("Authorization"))
            if query is None:
                self._reply(400, json.dumps({"code": "invalid", "message": error}).encode(), {})
                return
            self._forward("POST", f"/write?{query}", body)
        elif url.path == "/health":
            self._health()
        elif url.path in ("/ping", "/query", "/write"):
            self._forward(self.command, self.path, body)
        else:
            self._reply(404, b'{"code":"not found","message":"path not found"}', {})

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _health(self) -> None:
        status, body, headers = self._upstream("GET", "/health", b"")
        if status == 404:
            status, _, headers = self._upstream("GET", "/ping", b"")
            ok = status == 204
            body = json.dumps({"name": "influxdb", "status": "pass" if ok else "fail",
                               "version": headers.get("X-Influxdb-Version", "")}).encode()
            status = 200 if ok else 503
            headers = {"Content-Type": "application/json"}
        self._reply(status, body, headers)

    def _forward(self, method: str, path: str, body: bytes) -> None:
        status, data, headers = self._upstream(method, path, body)
        self._reply(status, data, headers)

    def _upstream(self, method: str, path: str, body: bytes) -> tuple[int, bytes, dict]:
        headers = {k: self.headers[k] for k in _PASSED_REQUEST_HEADERS if self.headers.get(k)}
        conn = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port,
                                          timeout=30)
        try:
            conn.request(method, path, body=body or None, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, data, dict(response.getheaders())
        except OSError as exc:
            message = json.dumps({"code": "unavailable", "message": f"upstream: {exc}"})
            return 503, message.encode(), {"Content-Type": "application/json"}
        finally:
            conn.close()

    def _reply(self, status: int, body: bytes, headers: dict) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in _HOP_HEADERS:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)


class WriteGateway(ThreadingHTTPServer):
    """The gateway server; ``start()`` runs it in a daemon thread, ``stop()`` closes it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, listen_port: int, upstream_host: str, upstream_port: int) -> None:
        super().__init__(("127.0.0.1", listen_port), _Handler)
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server_address[1]

    def start(self) -> WriteGateway:
        self._thread = threading.Thread(target=self.serve_forever, name="influx-gateway",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread:
            self._thread.join(timeout=10)
