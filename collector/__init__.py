"""Tesla Energy Collector: Fleet API energy-site data into InfluxDB.

Pipeline: ``source`` (httpx, Fleet API) -> ``transform`` (pure pandas) -> ``sink`` (InfluxDB
+ spool), driven by ``jobs`` (daemon), ``backfill`` and ``control``. ``sim`` is a
Fleet-API-compatible simulated site.
"""

__version__ = "0.1.0"
