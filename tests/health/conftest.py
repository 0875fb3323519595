"""The backfill fixtures (simulator, client, real sink on a fresh influxd database, ``run``)."""

from tests.backfill.conftest import client, now, run, settings, sim, sink  # noqa: F401
