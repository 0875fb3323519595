"""A real ``influxd`` process for the test suite, plus an InfluxQL query helper.

``InfluxServer`` writes a throwaway config (reporting off, meta/data/wal under a temp dir, quiet
logging, free ports for HTTP and the 8088 RPC bind address), starts the binary from ``INFLUXD``
or ``PATH``, waits for ``/ping`` and reads the version from ``X-Influxdb-Version``.

Two URLs reach it: ``.url`` is influxd itself (the product writes 1.x natively through
``/write``), ``.gateway_url`` the ``WriteGateway`` in front of it, which plays a 2.x server
(``/api/v2/write``, 2.x's error bodies), so both write paths run against the real database.
``auth=True`` starts it with ``auth-enabled = true`` and an admin user created over ``/query``
(the helpers here then authenticate as that admin; ``create_user`` adds users for the product).
``stop()``/``start()`` keep the ports and the data dir (outage tests); ``pause()``/``resume()``
SIGSTOP/SIGCONT the process: it still accepts connections but never answers (a hung server).

Test support only: no product code imports this, and nothing here fakes the database.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from collector.localdb import free_port, influxd_config
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


class InfluxServer:
    """One influxd process with its own directory and ports (kept across stop/start)."""

    ADMIN = ("admin", "admin-test-password")

    def __init__(self, root: Path | None = None, binary: str | None = None,
                 auth: bool = False) -> None:
        self.binary = binary or find_influxd()
        self._own_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="influxd-test-"))
        self.auth = auth
        self.http_port = free_port()
        self.rpc_port = free_port()
        self.gateway_port = free_port()
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
        """influxd itself as INFLUX_URL: the product writes through 1.x's ``/write``."""
        return self.direct_url

    @property
    def gateway_url(self) -> str:
        """The v2 gateway as INFLUX_URL: the product writes through ``/api/v2/write``."""
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> InfluxServer:
        if self.running:
            return self
        config = self.root / "influxdb.conf"
        config.write_text(influxd_config(self.root, self.http_port, self.rpc_port, self.auth))
        log = (self.root / "influxd.log").open("ab")
        self._process = subprocess.Popen(
            [self.binary, "run", "-config", str(config)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "INFLUXDB_REPORTING_DISABLED": "true"},
        )
        log.close()
        self.version = self._wait_ready()
        if self.auth:
            self._create_admin()
        if self._gateway is None:
            self._gateway = WriteGateway(self.gateway_port, "127.0.0.1", self.http_port).start()
        return self

    def _create_admin(self) -> None:
        """The first admin user (1.x allows creating it without credentials; a restart with
        users in place answers 'admin user exists', which is fine)."""
        user, password = self.ADMIN
        try:
            self.raw_query(f"CREATE USER {user} WITH PASSWORD '{password}' WITH ALL PRIVILEGES",
                           method="POST")
        except InfluxQueryError as exc:
            if "already exists" not in str(exc) and "admin user" not in str(exc):
                raise

    def create_user(self, user: str, password: str, *, write: str = "",
                    read: str = "") -> str:
        """A non-admin user with WRITE and/or READ on databases; returns ``user:password``."""
        self.raw_query(f"CREATE USER \"{user}\" WITH PASSWORD '{password}'", method="POST")
        for privilege, database in (("WRITE", write), ("READ", read)):
            if database:
                self.raw_query(f'GRANT {privilege} ON "{database}" TO "{user}"', method="POST")
        return f"{user}:{password}"

    def pause(self) -> None:
        """SIGSTOP influxd: connections are still accepted, nothing is answered."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def stop(self, gateway: bool = True) -> None:
        """Stop influxd (and the gateway) so the product sees connection refused; with
        ``gateway=False`` the gateway stays up and answers 503 like a proxy before a dead
        server."""
        if gateway and self._gateway is not None:
            self._gateway.stop()
            self._gateway = None
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGCONT)  # a paused server cannot stop otherwise
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
            request = urllib.request.Request(f"{self.direct_url}/query?{encoded}",
                                             headers=self._auth_headers())
        else:
            request = urllib.request.Request(
                f"{self.direct_url}/query", data=encoded.encode(), method="POST",
                headers={"Content-Type": "application/x-www-form-urlencoded",
                         **self._auth_headers()})
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

    def _auth_headers(self) -> dict[str, str]:
        if not self.auth:
            return {}
        pair = base64.b64encode(":".join(self.ADMIN).encode()).decode()
        return {"Authorization": f"Basic {pair}"}

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
                                         data="\n".join(lines).encode(),
                                         headers=self._auth_headers())
        with urllib.request.urlopen(request, timeout=30):
            pass
