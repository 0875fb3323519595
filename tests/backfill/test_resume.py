"""Interrupted and crashed runs resume from the checkpoint without refetching finished windows."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from collector.backfill import Checkpoint, RunOptions, checkpoint_path, plan_kind
from collector.backfill.progress import Progress
from collector.sim import ENERGY_FIELDS
from tests.backfill.conftest import LA, requested_days, stored_by_day

pytestmark = pytest.mark.integration

FIRST, LAST = date(2024, 9, 1), date(2024, 9, 30)
ALL_DAYS = {FIRST + timedelta(days=i) for i in range(30)}


def _finished_days(path, site_id: int) -> set[date]:
    checkpoint = Checkpoint(path)
    return {w.first for w in plan_kind(site_id, "energy", FIRST, LAST, LA)
            if checkpoint.is_done(w)}


def _assert_exact(sim, influxd, db, site_id, days) -> None:
    stored = stored_by_day(influxd, db, site_id, LA)
    for day in days:
        truth = sim.energy_rows(site_id, day)
        assert len(stored[day]) == len(truth), day
        for name in ENERGY_FIELDS:
            assert sum(r[name] for r in stored[day]) == sum(t.get(name, 0) for t in truth)


def _resume_and_check(run, sim, influxd, db, path, site, now) -> None:
    finished = _finished_days(path, site)
    sim.requests.clear()
    second = run(FIRST, LAST, checkpoint=Checkpoint(path))
    assert second.ok, second
    refetched = set(requested_days(sim, site, LA)) - {now().astimezone(LA).date()}
    assert not refetched & finished
    assert refetched | finished == ALL_DAYS
    assert second.get(site, "energy").skipped == len(finished)
    assert not path.exists()  # a completed plan forgets its windows
    _assert_exact(sim, influxd, db, site, ALL_DAYS)


def test_a_stopped_run_resumes_where_it_stopped(run, sim, settings, influxd, influx_db, now):
    site = sim.site_ids[0]
    path = checkpoint_path(settings.collector.state_dir)
    stop = threading.Event()

    def progress(total: int) -> Progress:  # Ctrl-C after 8 windows are written
        return Progress(total, tty=False,
                        on_update=lambda done, _failed: done >= 8 and stop.set())

    first = run(FIRST, LAST, checkpoint=Checkpoint(path), stop=stop, progress=progress,
                concurrency=2)
    assert first.interrupted and not first.ok
    finished = _finished_days(path, site)
    assert 8 <= len(finished) < 30
    assert first.get(site, "energy").done == len(finished)
    _assert_exact(sim, influxd, influx_db, site, finished)  # done means written
    _resume_and_check(run, sim, influxd, influx_db, path, site, now)


class CrashingSink:
    """The real sink, until the process 'dies' on the n-th write."""

    def __init__(self, inner, crash_on: int) -> None:
        self.inner, self.crash_on, self.calls = inner, crash_on, 0

    def write(self, lines):
        self.calls += 1
        if self.calls >= self.crash_on:
            raise RuntimeError("killed")
        return self.inner.write(lines)

    def query_influxql(self, *args, **kwargs):
        return self.inner.query_influxql(*args, **kwargs)


def test_a_crash_never_checkpoints_unwritten_windows(client, sink, sim, settings, influxd,
                                                    influx_db, now, run):
    from collector.backfill import Scope, run_backfill

    site = sim.site_ids[0]
    path = checkpoint_path(settings.collector.state_dir)
    crashed = run_backfill(client, CrashingSink(sink, crash_on=6), [site],
                           Scope(start=FIRST, end=LAST, kinds=("energy",)), now=now,
                           checkpoint=Checkpoint(path),
                           # 1 write per window, its energy_cost lines included
                           options=RunOptions(concurrency=3, batch_points=1, price_rows=1))
    assert "killed" in crashed.error
    finished = _finished_days(path, site)
    assert 0 < len(finished) < 30
    stored = stored_by_day(influxd, influx_db, site, LA)
    assert set(stored) == finished  # exactly the written windows are marked
    _resume_and_check(run, sim, influxd, influx_db, path, site, now)
