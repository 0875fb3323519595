"""Suite-wide fixtures: a real influxd for integration tests, fresh databases, state dirs.

- ``influxd`` (session): one server for the whole run. Never stop it from a test.
- ``private_influxd`` (function): a server of its own, for tests that ``stop()``/``start()`` or
  ``pause()``/``resume()`` it.
- ``auth_influxd`` (session): a server with ``auth-enabled = true`` (admin user created; tests
  add their own users with ``create_user``). Never stop it from a test.
- ``influx_db`` (function): a fresh, empty database on the session server.
- ``influx_settings`` (function): ``collector.config.Settings`` pointing at ``influx_db``
  (bucket ``<db>/autogen``) with ``tmp_state_dir`` as state dir.
- ``tmp_state_dir`` (function): an empty state directory.

When influxd is missing the fixtures FAIL (not skip) with the install instructions: the README's
test command installs it, so a missing server is a broken setup, not an optional test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.config import Settings
from tests.support import InfluxdMissing, InfluxServer, make_settings


def _start_server(root: Path, auth: bool = False) -> InfluxServer:
    try:
        return InfluxServer(root=root, auth=auth).start()
    except InfluxdMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    except RuntimeError as exc:
        pytest.fail(f"could not start influxd: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    server = _start_server(tmp_path_factory.mktemp("influxd-session"))
    yield server
    server.close()


@pytest.fixture(scope="session")
def auth_influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    server = _start_server(tmp_path_factory.mktemp("influxd-auth"), auth=True)
    yield server
    server.close()


@pytest.fixture
def private_influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    server = _start_server(tmp_path_factory.mktemp("influxd-private"))
    yield server
    server.close()


@pytest.fixture
def tmp_state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path


def new_database(server: InfluxServer) -> str:
    return server.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def influx_db(influxd: InfluxServer) -> Iterator[str]:
    name = new_database(influxd)
    yield name
    influxd.drop_database(name)


@pytest.fixture
def influx_settings(influxd: InfluxServer, influx_db: str, tmp_state_dir: Path) -> Settings:
    return make_settings(influxd.url, influx_db, tmp_state_dir)
