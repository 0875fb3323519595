"""The test harness itself: influxd starts, the v2 write path works, queries read back."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.support import InfluxServer
from tests.support.gateway import translate_write_query


def _v2_write(url: str, bucket: str, body: str, token: str = "") -> int:
    request = urllib.request.Request(
        f"{url}/api/v2/write?org=-&bucket={bucket}&precision=s", data=body.encode(),
        method="POST", headers={"Authorization": f"Token {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_v2_write_lands_and_reads_back(influxd: InfluxServer, influx_db: str) -> None:
    status = _v2_write(influxd.url, f"{influx_db}/autogen", "m,site_id=1 v=1.5 1700000000",
                       token="user:pass")
    assert status == 204
    rows = influxd.query('SELECT v, site_id FROM "m"', db=influx_db)
    assert rows == [{"time": 1700000000, "v": 1.5, "site_id": "1"}]
    assert influxd.field_types(influx_db, "m") == {"v": "float"}


def test_v2_write_passes_errors_through(influxd: InfluxServer, influx_db: str) -> None:
    assert _v2_write(influxd.url, f"{influx_db}/autogen", "not line protocol") == 400


def test_health_and_ping(influxd: InfluxServer) -> None:
    with urllib.request.urlopen(f"{influxd.url}/health", timeout=10) as response:
        assert json.load(response)["status"] == "pass"
    with urllib.request.urlopen(f"{influxd.url}/ping", timeout=10) as response:
        assert response.status == 204
        assert response.headers["X-Influxdb-Version"] == influxd.version


def test_translate_write_query() -> None:
    query, error = translate_write_query("org=o&bucket=db/rp&precision=us", "Token u:p")
    assert error == ""
    assert query == "db=db&precision=u&rp=rp&u=u&p=p"
    assert translate_write_query("org=o", None)[0] is None


def test_private_server_survives_restart(private_influxd: InfluxServer) -> None:
    db = private_influxd.create_database("restart")
    private_influxd.write_lines(db, ["m v=1 1700000000"])
    url = private_influxd.url
    private_influxd.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/ping", timeout=5)
    private_influxd.start()
    assert private_influxd.url == url
    assert private_influxd.query('SELECT v FROM "m"', db=db) == [{"time": 1700000000, "v": 1.0}]
