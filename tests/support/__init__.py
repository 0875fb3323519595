"""Test helpers shared by the whole suite (import as ``tests.support``).

- ``InfluxServer``: a real influxd process on free ports, with ``.url`` (influxd itself: the
  1.x ``/write`` path), ``.gateway_url`` (a v2 write gateway playing InfluxDB 2.x in front of
  it), ``.query()``, ``.field_types()``, ``.create_database()``, ``.create_user()`` (with
  ``auth=True``), ``.stop()``/``.start()`` and ``.pause()``/``.resume()``.
- ``make_settings``: a ``collector.config.Settings`` pointing at one database of a server.
- ``load_payload`` / ``fleet_transport``: recorded-shape Fleet API payloads from
  ``tests/fixtures`` served through ``httpx.MockTransport``.

Nothing here fakes the database; only the Fleet API is faked, at the HTTP boundary.
"""

from tests.support.fleet import fleet_transport, load_payload
from tests.support.influx import InfluxdMissing, InfluxQueryError, InfluxServer, find_influxd
from tests.support.settings import make_settings

__all__ = [
    "InfluxQueryError",
    "InfluxServer",
    "InfluxdMissing",
    "find_influxd",
    "fleet_transport",
    "load_payload",
    "make_settings",
]
