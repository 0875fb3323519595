"""A v2 write gateway in front of a real influxd 1.x: the suite's stand-in for InfluxDB 2.x.

The product writes 1.x natively (``/write``) and 2.x/3 through ``POST /api/v2/write``. To run
that second path against the real influxd, this small threaded HTTP server plays a 2.x write
endpoint in front of it:

- ``/ping`` is forwarded, but announces ``X-Influxdb-Version: 2.7.12`` (``GATEWAY_VERSION``),
  so the product picks ``/api/v2/write`` as it does for a real 2.x;
- ``POST /api/v2/write?org=&bucket=db/rp&precision=s|ms|us|ns`` becomes
  ``POST /write?db=db&rp=rp&precision=s|ms|u|ns`` (token ``user:password`` -> ``u``/``p``),
  the translation InfluxDB 1.8 does natively;
- answers keep influxd's status, but errors carry the bodies InfluxDB 2.x sends (from its
  write handler, ``http/write_handler.go``): 401 ``unauthorized access``, 403 ``insufficient
  permissions for write``, 404 ``bucket "x" not found`` (1.x's missing database or retention
  policy), and an empty body that passed those checks is 2.x's 400 ``writing requires points``;
- ``/health`` (synthesised from ``/ping`` when the server has none) and ``/query`` are
  forwarded; any other path answers 2.x's 404 ``path not found``.

Test support only: not product code, and nothing here stands in for the database itself.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

GATEWAY_VERSION = "2.7.12"
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
            self._write(url.query, body)
        elif url.path == "/health":
            self._health()
        elif url.path == "/ping":
            status, data, headers = self._upstream(self.command, self.path, body)
            self._reply(status, data, {**headers, "X-Influxdb-Version": GATEWAY_VERSION})
        elif url.path in ("/query", "/write"):
            self._forward(self.command, self.path, body)
        else:
            self._reply(404, _v2_error("not found", "path not found"), {})

    def _write(self, query_string: str, body: bytes) -> None:
        query, error = translate_write_query(query_string, self.headers.get("Authorization"))
        if query is None:
            self._reply(400, _v2_error("invalid", error), {})
            return
        status, data, headers = self._upstream("POST", f"/write?{query}", body)
        bucket = dict(parse_qsl(query_string)).get("bucket", "")
        v2 = v2_write_answer(status, data, bucket, empty=not body.strip())
        if v2 is None:
            self._reply(status, data, headers)
        else:
            self._reply(v2[0], v2[1], {"Content-Type": "application/json; charset=utf-8"})

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
        user, password = _credentials(self.headers.get("Authorization"))
        if user:  # 2.x's "Token user:password" is HTTP Basic for influxd 1.x
            pair = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
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


def _v2_error(code: str, message: str) -> bytes:
    return json.dumps({"code": code, "message": message}).encode()


def v2_write_answer(status: int, body: bytes, bucket: str,
                    empty: bool) -> tuple[int, bytes] | None:
    """InfluxDB 2.x's answer for influxd 1.x's answer ``status``/``body`` to a translated
    write, or None to pass it through unchanged."""
    text = body.decode("utf-8", "replace")
    if status == 204 and empty:
        return 400, _v2_error("invalid", "writing requires points")
    if status == 401:
        return 401, _v2_error("unauthorized", "unauthorized access")
    if status == 403:
        return 403, _v2_error("forbidden", "insufficient permissions for write")
    if status == 404 or "retention policy not found" in text:
        return 404, _v2_error("not found", f'bucket "{bucket}" not found')
    if status == 400:
        try:
            message = json.loads(text).get("error", text)
        except (ValueError, AttributeError):
            message = text
        return 400, _v2_error("invalid", str(message).strip())
    return None


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
