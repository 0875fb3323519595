"""Where the sink writes: the InfluxDB URL, its write API and the database/bucket, described once.

InfluxDB 1.x (every version, 1.0 to 1.12) is written natively through ``POST /write?db=&rp=``
with ``precision=s``; the bucket setting is ``database/retention_policy`` (``tesla/autogen``;
``tesla`` alone means the database's default policy) and the token ``user:password`` (sent as
HTTP Basic auth, never in the URL). InfluxDB 2.x and 3 Core are written through
``POST /api/v2/write?org=&bucket=`` with ``Authorization: Token``. Which API a server speaks is
read from the ``X-Influxdb-Version`` header of ``/ping`` (``api_for_version``); a server that
sends no version is taken for a v2 one. Pure: no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

V1 = "v1"
V2 = "v2"


def major_version(version: str) -> int | None:
    """``"1.6.7~rc0"`` -> 1, ``"v2.7.12"`` -> 2, ``"3.1.0"`` -> 3; None when unreadable."""
    head = version.strip().lstrip("vV").split(".", 1)[0]
    return int(head) if head.isdigit() else None


def api_for_version(version: str) -> str:
    """The write API for a server announcing ``version``: v1 for 1.x, else v2."""
    return V1 if major_version(version) == 1 else V2


@dataclass(frozen=True)
class Target:
    """The configured destination; ``api`` and ``version`` are filled in once detected."""

    url: str
    bucket: str
    org: str = ""
    api: str = ""
    version: str = ""

    @property
    def database(self) -> str:
        return self.bucket.split("/", 1)[0]

    @property
    def retention_policy(self) -> str:
        return self.bucket.partition("/")[2]

    def detected(self, version: str) -> Target:
        return replace(self, api=api_for_version(version), version=version)

    def write_request(self) -> tuple[str, list[tuple[str, str]]]:
        """Path and query parameters of a seconds-precision write for this target."""
        if self.api == V1:
            params = [("db", self.database), ("precision", "s")]
            if self.retention_policy:
                params.append(("rp", self.retention_policy))
            return "/write", params
        params = [("bucket", self.bucket), ("precision", "s")]
        if self.org:
            params.append(("org", self.org))
        return "/api/v2/write", params

    def describe(self) -> str:
        """``database "tesla" (retention policy "autogen")`` or ``bucket "tesla" (org "x")``."""
        if self.api == V1:
            policy = self.retention_policy
            rp = f'retention policy "{policy}"' if policy else "default retention policy"
            return f'database "{self.database}" ({rp})'
        org = f' (org "{self.org}")' if self.org else ""
        return f'bucket "{self.bucket}"{org}'
