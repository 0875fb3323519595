"""The sink's HTTP requests to InfluxDB: ``/ping``, writes (v1 or v2) and ``/query``.

Built on ``influxdb_client``'s HTTP stack: the urllib3 pool it configures (TLS, proxy,
pool size) and its default headers (``User-Agent``, ``Authorization``), requested directly: the
write API of the library speaks only ``/api/v2/write`` and its query API only Flux, while the
sink needs ``/write`` for InfluxDB 1.x, an empty-body write as a start-up probe, and InfluxQL;
and its generic ``call_api`` (sanitizing, header merging, exceptions for statuses) cost a
quarter of an imported day's write CPU. Every call has an explicit timeout; an HTTP error
status comes back as a ``Reply`` (the caller classifies it), a failure to get any answer raises
``Unreachable`` with a short reason that never contains a credential. Credentials travel only in
the ``Authorization`` header: ``Token <token>`` for v2 servers, HTTP Basic ``user:password``
for 1.x. The only module with ``collector.sink.__init__`` that imports ``influxdb_client``.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import urllib3
from influxdb_client import InfluxDBClient

from collector.sink.target import V1, Target


class Unreachable(Exception):
    """No HTTP answer at all (refused, reset, timed out, name not found); ``str`` says which."""


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str:
        wanted = name.lower()
        return next((str(v) for k, v in self.headers.items() if k.lower() == wanted), "")

    @property
    def retry_after(self) -> float | None:
        try:
            return max(0.0, float(self.header("Retry-After")))
        except ValueError:
            return None


class Transport:
    """One client per API flavour; ``use_api`` switches the authentication scheme."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self._token = token
        self._api = ""
        self._client = self._new_client()

    def _new_client(self) -> InfluxDBClient:
        basic = self._api == V1 and ":" in self._token
        return InfluxDBClient(url=self.url, token=self._token or None, auth_basic=basic)

    def use_api(self, api: str) -> None:
        if api != self._api:
            self._api = api
            old, self._client = self._client, self._new_client()
            old.close()

    def ping(self, timeout: float) -> Reply:
        return self._call("/ping", "GET", [], None, timeout)

    def post_lines(self, target: Target, lines: list[str], timeout: float) -> Reply:
        path, params = target.write_request()
        body = "\n".join(lines).encode() if lines else b""
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        return self._call(path, "POST", params, body, timeout, headers)

    def query(self, database: str, query: str, epoch: str, timeout: float) -> Reply:
        params = [("db", database), ("q", query), ("epoch", epoch)]
        return self._call("/query", "GET", params, None, timeout,
                          {"Accept": "application/json"})

    def _call(self, path: str, method: str, params: list[tuple[str, str]], body: Any,
              timeout: float, headers: dict[str, str] | None = None) -> Reply:
        api = self._client.api_client
        url = self.url.rstrip("/") + path + (f"?{urlencode(params)}" if params else "")
        try:
            response = api.rest_client.pool_manager.request(
                method, url, body=body, headers={**api.default_headers, **(headers or {})},
                timeout=urllib3.Timeout(total=max(0.001, timeout)), retries=False)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unreachable(describe_failure(exc, timeout)) from None
        return Reply(response.status, response.data or b"", dict(response.headers))

    def close(self) -> None:
        self._client.close()


def describe_failure(exc: BaseException, timeout: float) -> str:
    """``connection refused``, ``no answer within 5 s``, ``host name not found``..."""
    chain = _causes(exc)
    if any(isinstance(c, ConnectionRefusedError) for c in chain):
        return "connection refused"
    if any(isinstance(c, socket.gaierror) or "NameResolution" in type(c).__name__
           for c in chain):
        return "host name not found"
    if any(isinstance(c, (ConnectionResetError, urllib3.exceptions.ProtocolError))
           for c in chain):
        return "connection closed without an answer"
    if any(isinstance(c, (TimeoutError, urllib3.exceptions.TimeoutError)) for c in chain):
        return f"no answer within {timeout:g} s"
    return type(chain[-1]).__name__


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc``, then what it wraps (urllib3's ``reason``, ``__cause__``, ``__context__``)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        reason = getattr(current, "reason", None)
        current = (reason if isinstance(reason, BaseException) else None) or \
            current.__cause__ or current.__context__
    return chain
