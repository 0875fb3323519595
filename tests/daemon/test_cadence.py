"""Live-poll cadence: expected vs completed vs missed polls, and the schedule that keeps it.

The accounting runs on an injected clock (no waiting); the schedule is read from the
scheduler's jobs, not timed."""

from __future__ import annotations

import dataclasses

from apscheduler.triggers.interval import IntervalTrigger

from collector import app
from collector.cadence import Cadence
from collector.config import IntervalSettings
from collector.jobs import GROUP_SIZE, MAX_LIVE_THREADS, Site, live_threads
from collector.sim import SimClock, SimConfig, SimServer
from tests.daemon.test_daemon import START, daemon_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_polls_on_time_are_never_missed_even_when_late_by_less_than_half_an_interval():
    clock = Clock()
    cadence = Cadence(30, clock)
    cadence.expect([1, 2], first_due_in=0)
    for slot, late in enumerate((0, 12, 3, 14, 0, 10)):  # each within half an interval
        clock.now = 1000.0 + 30 * slot + late
        cadence.completed(1)
        cadence.completed(2)
    assert cadence.counts().as_dict() == {"expected": 12, "completed": 12, "missed": 0}


def test_a_skipped_interval_is_one_missed_poll_and_the_open_gap_counts_too():
    clock = Clock()
    cadence = Cadence(30, clock)
    cadence.expect([1], first_due_in=0)
    cadence.completed(1)  # t=0
    clock.now += 60  # the poll due at 30 never came
    cadence.completed(1)
    assert cadence.counts().as_dict() == {"expected": 3, "completed": 2, "missed": 1}
    clock.now += 100  # due at 90, 120, 150: the last one is not half an interval late yet
    assert cadence.counts().missed == 1 + 2
    clock.now += 10
    assert cadence.counts().missed == 1 + 3


def test_a_site_never_answering_misses_every_poll_from_its_first_due_time():
    clock = Clock()
    cadence = Cadence(10, clock)
    cadence.expect([1], first_due_in=5)
    clock.now += 5 + 4  # first poll due at +5, not yet half an interval late
    assert cadence.counts().missed == 0
    clock.now += 2
    assert cadence.counts().as_dict() == {"expected": 1, "completed": 0, "missed": 1}
    cadence.forget([1])  # a removed site stops being expected
    clock.now += 100
    assert cadence.counts().missed == 0


def test_live_thread_pool_grows_with_the_fleet_and_the_interval():
    assert live_threads(3, 30) == 2  # one group
    assert live_threads(200, 30) == 10
    assert live_threads(2000, 30) == 100  # 2000 x 1.5 s / 30 s in flight at worst
    assert live_threads(2000, 10) == MAX_LIVE_THREADS
    assert live_threads(2000, 3600) == 4


def test_groups_start_spread_over_the_first_interval_without_jitter(influx_settings):
    with SimServer(SimConfig(sites=1, seed=7, clock=SimClock.fixed(START))) as sim:
        settings = dataclasses.replace(daemon_settings(influx_settings, sim),
                                       intervals=IntervalSettings(live_seconds=30))
        sites = [Site(2252000000000 + n, f"s{n}") for n in range(5 * GROUP_SIZE)]
        daemon = app.build(settings, sites=sites, clock=sim.clock.now)
        daemon.scheduler.start(paused=True)
        try:
            daemon.schedule()
            jobs = {job.id: job for job in daemon.scheduler.get_jobs()}
            starts = [jobs[f"live:{k}"].next_run_time for k in range(5)]
            offsets = [(t - starts[0]).total_seconds() for t in starts]
            assert [round(o) for o in offsets] == [0, 6, 12, 18, 24]
            periodic = [job for job in jobs.values() if job.id != "gapfill"]
            assert len(periodic) == 3 * 5 + 2  # live, site_info, history; metrics, discover
            for job in periodic:
                assert isinstance(job.trigger, IntervalTrigger) and not job.trigger.jitter
            counts = daemon.collector.cadence.counts()
            assert counts.expected == 0 and counts.missed == 0  # nothing due yet
            assert "tesla_energy_live_polls_missed_total 0" in app.metrics_text(daemon)
            assert daemon.health.snapshot()["live_polls"] == {"expected": 0, "completed": 0,
                                                              "missed": 0}
        finally:
            daemon.scheduler.shutdown(wait=False)
            daemon.close()


def test_daemon_counts_completed_and_missed_live_polls(influx_settings):
    with SimServer(SimConfig(sites=2, seed=7, clock=SimClock.fixed(START))) as sim:
        daemon = app.build(daemon_settings(influx_settings, sim), clock=sim.clock.now)
        clock = Clock()
        collector = daemon.collector
        collector.cadence = Cadence(30, clock)
        collector.cadence.expect([s.site_id for s in daemon.sites])
        collector.poll_live(daemon.sites)
        assert collector.cadence.counts().completed == 2
        clock.now += 30
        collector.poll_live(daemon.sites)  # the same sample again is still a completed poll
        clock.now += 60  # one round not polled at all
        collector.poll_live(daemon.sites)
        assert collector.cadence.counts().as_dict() == {"expected": 8, "completed": 6,
                                                        "missed": 2}
        daemon.close()
