"""What InfluxDB's answers mean (pure): the bodies are the ones 1.x, 2.x and 3 Core really send.

1.x bodies were captured from the suite's influxd 1.6.7 (see test_refusals.py for the live
checks); 2.x's come from its write handler (``http/write_handler.go``: ``insufficient
permissions for write``, ``bucket "b" not found``, ``writing requires points``) and
authentication middleware (``unauthorized access``); 3 Core's from ``influxdb3_server``.
"""

from __future__ import annotations

import pytest

from collector.sink.answers import INVALID, OK, REFUSED, TRANSIENT, classify, server_message
from collector.sink.target import V1, V2, Target, api_for_version, major_version

V1_TARGET = Target("http://db:8086", "tesla/autogen", "-", api=V1)
V2_TARGET = Target("http://db:8086", "tesla", "home", api=V2)


@pytest.mark.parametrize(("version", "major", "api"), [
    ("1.6.7~rc0", 1, V1), ("1.8.10", 1, V1), ("1.12.2", 1, V1), ("v2.7.12", 2, V2),
    ("2.7.12", 2, V2), ("3.1.0", 3, V2), ("", None, V2), ("unknown", None, V2),
])
def test_the_write_api_follows_the_announced_version(version, major, api) -> None:
    assert major_version(version) == major and api_for_version(version) == api


def test_write_requests_and_descriptions() -> None:
    assert V1_TARGET.write_request() == (
        "/write", [("db", "tesla"), ("precision", "s"), ("rp", "autogen")])
    assert Target("u", "tesla", api=V1).write_request()[1] == [("db", "tesla"),
                                                               ("precision", "s")]
    assert V2_TARGET.write_request() == (
        "/api/v2/write", [("bucket", "tesla"), ("precision", "s"), ("org", "home")])
    assert V1_TARGET.describe() == 'database "tesla" (retention policy "autogen")'
    assert Target("u", "tesla", api=V1).describe() == 'database "tesla" (default retention policy)'
    assert V2_TARGET.describe() == 'bucket "tesla" (org "home")'


@pytest.mark.parametrize(("status", "body", "target", "kind", "setting"), [
    (204, b"", V1_TARGET, OK, None),
    (400, b'{"error":"unable to parse \'x\': missing fields"}', V1_TARGET, INVALID, None),
    (400, b'{"code":"invalid","message":"writing requires points"}', V2_TARGET, INVALID, None),
    (422, b'{"code":"unprocessable entity","message":"failure writing points"}', V2_TARGET,
     INVALID, None),
    (401, b'{"error":"authorization failed"}\n', V1_TARGET, REFUSED, "INFLUX_TOKEN"),
    (401, b'{"error":"unable to parse authentication credentials"}\n', V1_TARGET, REFUSED,
     "INFLUX_TOKEN"),
    (403, b'{"error":"\\"r\\" user is not authorized to write to database \\"tesla\\""}',
     V1_TARGET, REFUSED, "INFLUX_TOKEN"),
    (404, b'{"error":"database not found: \\"tesla\\""}\n', V1_TARGET, REFUSED, "INFLUX_BUCKET"),
    (500, b'{"error":"retention policy not found: autogen"}\n', V1_TARGET, REFUSED,
     "INFLUX_BUCKET"),
    (404, b"404 page not found\n", V1_TARGET, REFUSED, "INFLUX_URL"),
    (401, b'{"code":"unauthorized","message":"unauthorized access"}', V2_TARGET, REFUSED,
     "INFLUX_TOKEN"),
    (403, b'{"code":"forbidden","message":"insufficient permissions for write"}', V2_TARGET,
     REFUSED, "INFLUX_TOKEN"),
    (404, b'{"code":"not found","message":"bucket \\"tesla\\" not found"}', V2_TARGET, REFUSED,
     "INFLUX_BUCKET"),
    (404, b'{"code":"not found","message":"organization name \\"home\\" not found"}',
     V2_TARGET, REFUSED, "INFLUX_ORG"),
    (404, b'{"code":"not found","message":"path not found"}', V2_TARGET, REFUSED, "INFLUX_URL"),
    (405, b"", V2_TARGET, REFUSED, "INFLUX_URL"),
    (500, b'{"error":"timeout"}', V1_TARGET, TRANSIENT, None),
    (503, b"", V2_TARGET, TRANSIENT, None),
    (429, b'{"code":"too many requests"}', V2_TARGET, TRANSIENT, None),
    (408, b"", V2_TARGET, TRANSIENT, None),
])
def test_classify(status, body, target, kind, setting) -> None:
    answer = classify(status, body, target)
    assert answer.kind == kind
    assert (answer.refusal.setting if answer.refusal else None) == setting


def test_refusal_lines_name_url_target_answer_and_fix() -> None:
    answer = classify(401, b'{"error":"authorization failed"}', V1_TARGET)
    assert answer.refusal is not None
    assert answer.refusal.start_line(V1_TARGET) == (
        'InfluxDB at http://db:8086 refused writes to database "tesla" (retention policy '
        '"autogen"): HTTP 401 authorization failed; set INFLUX_TOKEN to user:password of an '
        'InfluxDB user that may write to "tesla"')
    assert answer.refusal.kept_line(12) == (
        "12 points kept in the spool, not written: InfluxDB answered 401 authorization "
        "failed; fix INFLUX_TOKEN and run again")
    missing = classify(404, b"404 page not found\n", V2_TARGET).refusal
    assert missing is not None and "nothing at http://db:8086 serves /api/v2/write" in \
        missing.advice


def test_server_message_reads_every_shape() -> None:
    assert server_message(b'{"error":"a"}') == "a"
    assert server_message(b'{"code":"x","message":"b"}') == "b"
    assert server_message(b"plain\n text") == "plain text"
    assert server_message(b"x" * 1000) == "x" * 200
