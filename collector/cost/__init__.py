"""Cost and savings from the site's own tariff, exact to the energy bucket.

Layout: ``timeline`` (which tariff version applied when; pure), ``compute`` (prices and costs
per bucket; pure), ``charges`` (daily and demand charges; pure), ``sessions`` (charge session
cost and solar share; pure), ``report`` (per day/month rows, totals, payback; pure), ``store``
(reading and writing the stored versions and results through the sink) and ``service`` (the
entry points used by the backfill, the daemon and the ``cost``/``tariff`` commands).

Nothing in this package imports httpx or influxdb_client.
"""
