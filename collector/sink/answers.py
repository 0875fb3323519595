"""What an InfluxDB answer to a write means, and what the user should change when it is a refusal.

Pure (no I/O). ``classify`` maps a status and body, as InfluxDB 1.x, 2.x and 3 Core really send
them, to one of four outcomes:

- ``OK`` (2xx): written.
- ``INVALID`` (400, 413, 422): some line is bad; the sink isolates it into the dead letters.
- ``TRANSIENT`` (429, 5xx, 408, no answer at all): InfluxDB is unavailable for now; spool and
  retry.
- ``REFUSED``: the server works but will not take writes with this configuration, and retrying
  cannot help until a person changes something: 401/403 (token), 404 (database, bucket or org
  missing; or no write endpoint at that URL: ``404 page not found``), 1.x's
  ``500 retention policy not found``, and any other 4xx. A ``Refusal`` names the setting.

Real bodies (checked against the servers' code and the real influxd 1.6.7): 1.x answers
``{"error": "authorization failed"}`` (401), ``{"error": "\\"u\\" user is not authorized to
write to database \\"d\\""}`` (403), ``{"error": "database not found: \\"d\\""}`` (404) and
``{"error": "retention policy not found: rp"}`` (500); 2.x ``{"code": "unauthorized",
"message": "unauthorized access"}`` (401), ``insufficient permissions for write`` (403),
``bucket "b" not found`` / ``organization name "o" not found`` (404); a server without the
endpoint (1.x before 1.8 asked for ``/api/v2/write``) answers ``404 page not found`` as text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from collector.sink.target import V1, Target

OK = "ok"
INVALID = "invalid"
TRANSIENT = "transient"
REFUSED = "refused"

INVALID_STATUSES = frozenset({400, 413, 422})
_TRANSIENT_4XX = frozenset({408, 429})
_MESSAGE_CHARS = 200


@dataclass(frozen=True)
class Refusal:
    """A refusal: the status, what the server said, the setting to change and how."""

    status: int
    message: str
    setting: str
    advice: str

    @property
    def answered(self) -> str:
        return f"InfluxDB answered {self.status} {self.message}"

    def start_line(self, target: Target) -> str:
        """The one line a command stops with when the start-up probe is refused."""
        return (f"InfluxDB at {target.url} refused writes to {target.describe()}: HTTP "
                f"{self.status} {self.message}; {self.advice}")

    def kept_line(self, points: int) -> str:
        """The summary line of a one-shot command whose points wait in the spool."""
        return (f"{points} points kept in the spool, not written: {self.answered}; fix "
                f"{self.setting} and run again")


@dataclass(frozen=True)
class Answer:
    """The outcome of one request: ``kind`` is OK, INVALID, TRANSIENT or REFUSED."""

    kind: str
    reason: str = ""
    refusal: Refusal | None = None
    retry_after: float | None = None


def server_message(body: Any) -> str:
    """The server's own words from a 1.x (``error``), 2.x (``message``) or plain-text body."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        text = str(data.get("message") or data.get("error") or text)
    return " ".join(text.split())[:_MESSAGE_CHARS]


def classify(status: int, body: Any, target: Target,
             retry_after: float | None = None) -> Answer:
    """What the answer ``status``/``body`` to a write at ``target`` means."""
    if 200 <= status < 300:
        return Answer(OK)
    message = server_message(body) or f"HTTP {status}"
    reason = f"HTTP {status}: {message}"
    if status in INVALID_STATUSES:
        return Answer(INVALID, reason)
    refusal = _refusal(status, message, target)
    if refusal is not None:
        return Answer(REFUSED, reason, refusal)
    return Answer(TRANSIENT, reason, retry_after=retry_after)


def _refusal(status: int, message: str, target: Target) -> Refusal | None:
    if status in (401, 403):
        return Refusal(status, message, "INFLUX_TOKEN", _token_advice(status, target))
    if status == 404:
        return _not_found(message, target)
    if status == 500 and "retention policy not found" in message:
        return Refusal(status, message, "INFLUX_BUCKET",
                       "create the retention policy or set INFLUX_BUCKET to database/policy "
                       "(the default policy is autogen)")
    if 400 <= status < 500 and status not in _TRANSIENT_4XX:
        return Refusal(status, message, "INFLUX_URL",
                       "check INFLUX_URL: the server there is not InfluxDB's HTTP API, or a "
                       "proxy in front of it refuses the request")
    return None


def _token_advice(status: int, target: Target) -> str:
    if target.api == V1:
        if status == 401:
            return ("set INFLUX_TOKEN to user:password of an InfluxDB user that may write to "
                    f'"{target.database}"')
        return (f'grant the INFLUX_TOKEN user WRITE on "{target.database}" (GRANT WRITE ON '
                f'"{target.database}" TO "user") or set INFLUX_TOKEN to a user that has it')
    if status == 401:
        return f'set INFLUX_TOKEN to an API token with write access to "{target.bucket}"'
    return (f'give the INFLUX_TOKEN token write permission on "{target.bucket}" or set '
            "INFLUX_TOKEN to one that has it")


def _not_found(message: str, target: Target) -> Refusal:
    text = message.lower()
    if text.startswith("organization"):
        return Refusal(404, message, "INFLUX_ORG",
                       "set INFLUX_ORG to the organization that owns the bucket")
    if not any(word in text for word in ("database", "bucket")):  # 404 page/path not found
        path = target.write_request()[0]
        return Refusal(404, message, "INFLUX_URL",
                       f"set INFLUX_URL to InfluxDB's HTTP address (like http://host:8086): "
                       f"nothing at {target.url} serves {path}")
    if target.api == V1:
        return Refusal(404, message, "INFLUX_BUCKET",
                       f'create the database (CREATE DATABASE "{target.database}") or set '
                       "INFLUX_BUCKET to an existing database/policy")
    return Refusal(404, message, "INFLUX_BUCKET",
                   "create the bucket or set INFLUX_BUCKET to an existing one")
