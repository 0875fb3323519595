"""A private ``influxd`` for ``scripts/demo`` (and the test suite's server): its configuration,
free ports, readiness and the first database, with the standard library only.

The configuration keeps everything under one directory (``meta``, ``data``, ``wal``), binds
HTTP and the RPC address to 127.0.0.1, and turns reporting, monitoring and request logs off.
``python -m collector.localdb`` exposes the steps to shell scripts:

    free-port                      print a free TCP port on 127.0.0.1
    check-port PORT                exit 2 with one line when PORT is out of range or in use
    config ROOT HTTP_PORT          write ROOT/influxdb.conf (RPC on another free port); print it
    wait URL SECONDS               wait for /ping; print the server version
    create-db URL NAME             CREATE DATABASE NAME

It never starts or stops a process: the caller owns influxd's lifetime.
"""

from __future__ import annotations

import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

CONFIG_TEMPLATE = """\
reporting-enabled = false
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root}/meta"
  logging-enabled = false

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
  trace-logging-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false
  log-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = {auth}
  log-enabled = false
  pprof-enabled = false
  flux-enabled = false

[logging]
  level = "error"
  suppress-logo = true
"""


class LocalDbError(Exception):
    """A step failed; the message is one line for the user."""


def influxd_config(root: Path, http_port: int, rpc_port: int, auth: bool = False) -> str:
    """The text of an influxd 1.x configuration keeping all its files under ``root``."""
    return CONFIG_TEMPLATE.format(root=root, rpc_port=rpc_port, http_port=http_port,
                                  auth="true" if auth else "false")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_port(text: str) -> int:
    """``text`` as a TCP port that is free on 127.0.0.1, or ``LocalDbError``."""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise LocalDbError(f"port {text!r} is out of range: use a number from 1 to 65535")
    port = int(text)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise LocalDbError(f"port {port} on 127.0.0.1 is already in use: pick another "
                               "with --port, or leave it out for a free one") from None
    return port


def write_config(root: Path, http_port: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "influxdb.conf"
    path.write_text(influxd_config(root.resolve(), http_port, free_port()))
    return path


def wait_ready(url: str, seconds: float) -> str:
    """Wait for ``/ping`` to answer; returns ``X-Influxdb-Version``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                return response.headers.get("X-Influxdb-Version", "")
        except (OSError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise LocalDbError(f"influxd at {url} did not answer /ping within "
                                   f"{seconds:.0f} s") from None
            time.sleep(0.1)


def create_database(url: str, name: str) -> None:
    body = urllib.parse.urlencode({"q": f'CREATE DATABASE "{name}"'}).encode()
    request = urllib.request.Request(f"{url}/query", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    except (OSError, urllib.error.URLError) as exc:
        raise LocalDbError(f"cannot create database {name} at {url}: {exc}") from None


def main(argv: list[str]) -> int:
    usage = "usage: python -m collector.localdb free-port|check-port|config|wait|create-db ..."
    try:
        match argv:
            case ["free-port"]:
                print(free_port())
            case ["check-port", port]:
                check_port(port)
            case ["config", root, port]:
                print(write_config(Path(root), int(port)))
            case ["wait", url, seconds]:
                print(wait_ready(url, float(seconds)))
            case ["create-db", url, name]:
                create_database(url, name)
            case _:
                print(usage, file=sys.stderr)
                return 2
    except LocalDbError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
