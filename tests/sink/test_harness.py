"""The test harness itself: influxd starts (with and without auth), the v2 gateway plays a 2.x
write endpoint with 2.x's answers, queries read back, a paused server hangs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.support import InfluxServer
from tests.support.gateway import GATEWAY_VERSION, translate_write_query


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
    status = _v2_write(influxd.gateway_url, f"{influx_db}/autogen",
                       "m,site_id=1 v=1.5 1700000000", token="user:pass")
    assert status == 204
    rows = influxd.query('SELECT v, site_id FROM "m"', db=influx_db)
    assert rows == [{"time": 1700000000, "v": 1.5, "site_id": "1"}]
    assert influxd.field_types(influx_db, "m") == {"v": "float"}


def _v2_answer(url: str, bucket: str, body: str, token: str = "") -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{url}/api/v2/write?org=-&bucket={bucket}&precision=s", data=body.encode(),
        method="POST", headers={"Authorization": f"Token {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {}
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_v2_gateway_answers_like_influxdb_2(influxd: InfluxServer, influx_db: str) -> None:
    url, bucket = influxd.gateway_url, f"{influx_db}/autogen"
    assert _v2_answer(url, bucket, "not line protocol")[0] == 400
    assert _v2_answer(url, bucket, "") == (
        400, {"code": "invalid", "message": "writing requires points"})
    assert _v2_answer(url, "nope/autogen", "m v=1 1") == (
        404, {"code": "not found", "message": 'bucket "nope/autogen" not found'})
    assert _v2_answer(url, f"{influx_db}/nope", "m v=1 1")[0] == 404


def test_v2_gateway_auth_answers(auth_influxd: InfluxServer) -> None:
    db = auth_influxd.create_database("gateway_auth")
    token = auth_influxd.create_user("gw_writer", "gw-pass", write=db)
    url, bucket = auth_influxd.gateway_url, f"{db}/autogen"
    assert _v2_answer(url, bucket, "m v=1 1700000000", token=token) == (204, {})
    assert _v2_answer(url, bucket, "m v=1 1", token="gw_writer:wrong") == (
        401, {"code": "unauthorized", "message": "unauthorized access"})
    reader = auth_influxd.create_user("gw_reader", "gw-pass", read=db)
    assert _v2_answer(url, bucket, "m v=1 1", token=reader) == (
        403, {"code": "forbidden", "message": "insufficient permissions for write"})


def test_auth_server_refuses_without_credentials(auth_influxd: InfluxServer) -> None:
    request = urllib.request.Request(f"{auth_influxd.url}/query?q=SHOW+DATABASES")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
    assert auth_influxd.query("SHOW DATABASES")  # the harness itself signs in as admin


def test_health_and_ping(influxd: InfluxServer) -> None:
    with urllib.request.urlopen(f"{influxd.gateway_url}/health", timeout=10) as response:
        assert json.load(response)["status"] == "pass"
    with urllib.request.urlopen(f"{influxd.gateway_url}/ping", timeout=10) as response:
        assert response.status == 204
        assert response.headers["X-Influxdb-Version"] == GATEWAY_VERSION
    with urllib.request.urlopen(f"{influxd.url}/ping", timeout=10) as response:
        assert response.headers["X-Influxdb-Version"] == influxd.version


def test_paused_server_accepts_but_never_answers(private_influxd: InfluxServer) -> None:
    private_influxd.pause()
    try:
        with pytest.raises(TimeoutError):
            urllib.request.urlopen(f"{private_influxd.url}/ping", timeout=0.5)
    finally:
        private_influxd.resume()
    with urllib.request.urlopen(f"{private_influxd.url}/ping", timeout=10) as response:
        assert response.status == 204


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
