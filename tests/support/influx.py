"""A real ``influxd`` process for the test suite, plus an InfluxQL query helper.

``InfluxServer`` writes a throwaway config (reporting off, meta/data/wal under a temp dir, quiet
logging, free ports for HTTP and the 8088 RPC bind address), starts the binary from ``INFLUXD``
or ``PATH``, waits for ``/ping`` and reads the version from ``X-Influxdb-Version``. Servers older
than 1.8 get the v2-to-v1 ``WriteGateway`` in front, so ``.url`` always speaks
``/api/v2/write``. ``stop()``/``start()`` keep the ports and the data dir (outage tests).

Test support only: no product code imports this, and nothing here fakes the database.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.gateway import WriteGateway

STARTUP_WAIT_SECONDS = 60.0
STOP_WAIT_SECONDS = 20.0


class InfluxdMissing(RuntimeError):
    """No influxd binary: the message says how to install one."""


class InfluxQueryError(RuntimeError):
    """InfluxDB answered a query with an error."""


def find_influxd() -> str:
    """The influxd binary from ``INFLUXD`` or ``PATH``; raises ``InfluxdMissing`` otherwise."""
    explicit = os.environ.get("INFLUXD")
    if explicit:
        if not (Path(explicit).is_file() and os.access(explicit, os.X_OK)):
            raise InfluxdMissing(f"INFLUXD={explicit} is not an executable file")
        return explicit
    found = shutil.which("influxd")
    if not found:
        raise InfluxdMissing(
            "influxd not found: the integration tests need a real InfluxDB server. Install it "
            "(Debian: sudo apt-get install influxdb) or set INFLUXD=/path/to/influxd; the "
            "README's test command does this for you"
        )
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parse_version(text: str) -> tuple[int, int]:
    """``"1.6.7~rc0"`` -> ``(1, 6)``; unknown text -> ``(0, 0)``."""
    parts = []
    for piece in text.lstrip("v").split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return (parts + [0, 0])[0], (parts + [0, 0])[1]


_CONFIG = """\
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
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
  flux-enabled = false

[logging]
  level = "error"
  suppress-logo = true
"""


class InfluxServer:
    """One influxd process with its own directory and ports (kept across stop/start)."""

    def __init__(self, root: Path | None = None, binary: str | None = None) -> None:
        self.binary = binary or find_influxd()
        self._own_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="influxd-test-"))
        self.http_port = free_port()
        self.rpc_port = free_port()
        self.gateway_port: int | None = None
        self.version = ""
        self._process: subprocess.Popen | None = None
        self._gateway: WriteGateway | None = None

    # --- lifecycle ---

    @property
    def direct_url(self) -> str:
        """influxd itself (v1 API)."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def url(self) -> str:
        """The URL the product uses as INFLUX_URL (speaks /api/v2/write)."""
        if self.gateway_port is not None:
            return f"http://127.0.0.1:{self.gateway_port}"
        return self.direct_url

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> InfluxServer:
        if self.running:
            return self
        config = self.root / "influxdb.conf"
        config.write_text(_CONFIG.format(root=self.root, rpc_port=self.rpc_port,
                                         http_port=self.http_port))
        log = (self.root / "influxd.log").open("ab")
        self._process = subprocess.Popen(
            [self.binary, "run", "-config", str(config)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "INFLUXDB_REPORTING_DISABLED": "true"},
        )
        log.close()
        self.version = self._wait_ready()
        if parse_version(self.version) < (1, 8):
            self._start_gateway()
        return self

    def stop(self) -> None:
        """Stop influxd (and the gateway) so the product sees connection refused."""
        if self._gateway is not None:
            self._gateway.stop()
            self._gateway = None
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=STOP_WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def close(self) -> None:
        """Stop and remove the throwaway directory."""
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def _start_gateway(self) -> None:
        if self.gateway_port is None:
            self.gateway_port = free_port()
        self._gateway = WriteGateway(self.gateway_port, "127.0.0.1", self.http_port).start()

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + STARTUP_WAIT_SECONDS
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"influxd exited with {self._process.returncode}; "
                                   f"log: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.direct_url}/ping", timeout=2) as response:
                    return response.headers.get("X-Influxdb-Version", "")
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"influxd did not answer /ping within {STARTUP_WAIT_SECONDS:.0f} s; "
                           f"log: {self.log_tail()}")

    def log_tail(self, chars: int = 2000) -> str:
        path = self.root / "influxd.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"

    # --- data access (v1 API, straight to influxd) ---

    def raw_query(self, influxql: str, db: str | None = None, epoch: str = "s",
                  method: str = "GET") -> list[dict[str, Any]]:
        """The ``results`` list of ``/query``; raises ``InfluxQueryError`` on any error."""
        params = {"q": influxql, "epoch": epoch}
        if db:
            params["db"] = db
        encoded = urllib.parse.urlencode(params)
        if method == "GET":
            request = urllib.request.Request(f"{self.direct_url}/query?{encoded}")
        else:
            request = urllib.request.Request(
                f"{self.direct_url}/query", data=encoded.encode(), method="POST",
                headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                payload = json.load(response)
        except urllib.error.HTTPError as exc:
            raise InfluxQueryError(f"{influxql!r}: HTTP {exc.code} {exc.read()!r}") from None
        if "error" in payload:
            raise InfluxQueryError(f"{influxql!r}: {payload['error']}")
        for result in payload.get("results", []):
            if "error" in result:
                raise InfluxQueryError(f"{influxql!r}: {result['error']}")
        return payload.get("results", [])

    def query(self, influxql: str, db: str | None = None, epoch: str = "s") -> list[dict]:
        """Rows of every series of every statement as dicts: tags + ``time`` + columns."""
        method = "GET" if influxql.lstrip().upper().startswith(("SELECT", "SHOW")) else "POST"
        rows: list[dict[str, Any]] = []
        for result in self.raw_query(influxql, db=db, epoch=epoch, method=method):
            for series in result.get("series", []):
                tags = series.get("tags") or {}
                for values in series.get("values", []):
                    rows.append({**tags, **dict(zip(series["columns"], values, strict=True))})
        return rows

    def field_types(self, db: str, measurement: str) -> dict[str, str]:
        """``SHOW FIELD KEYS`` for one measurement: field name -> float|integer|string|boolean."""
        rows = self.query(f'SHOW FIELD KEYS FROM "{measurement}"', db=db)
        return {row["fieldKey"]: row["fieldType"] for row in rows}

    def create_database(self, name: str) -> str:
        self.raw_query(f'CREATE DATABASE "{name}"', method="POST")
        return name

    def drop_database(self, name: str) -> None:
        self.raw_query(f'DROP DATABASE "{name}"', method="POST")

    def write_lines(self, db: str, lines: list[str], precision: str = "s") -> None:
        """Seed data through the v1 API directly (bypasses the product's sink)."""
        query = urllib.parse.urlencode({"db": db, "precision": precision})
        request = urllib.request.Request(f"{self.direct_url}/write?{query}", method="POST",
                                         data="\n".join(lines).encode())
        with urllib.request.urlopen(request, timeout=30):
            pass
