"""JSON decoding shared by the Fleet API client and the InfluxDB sink: orjson first (several
times faster on the large answers: a day of history, a year of buckets read back), the
standard library's json where orjson refuses what json accepts (``1e999``, ``NaN``, a lone
surrogate, an integer beyond 64 bits), so such an answer is still read."""

from __future__ import annotations

import json
from typing import Any

import orjson


def decode_json(content: bytes | str) -> Any:
    """``content`` decoded; raises ``ValueError`` if it is not JSON."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return json.loads(content)
