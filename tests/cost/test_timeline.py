"""Which tariff version prices which instant: snapshots, declared ranges, assumptions."""

from __future__ import annotations

import pytest

from collector.cost.timeline import DECLARED, SNAPSHOT, TariffVersion, Timeline, content_sha256
from tests.cost.support import fixture, three_season


def version(start: int, source: str = SNAPSHOT, until: int | None = None,
            name: str = "") -> TariffVersion:
    content = {**fixture("flat"), "name": name or f"{source}@{start}"}
    return TariffVersion(start, source, content, until=until)


def names(line: Timeline, times: list[int]) -> list[str]:
    found = line.lookup(times)
    return [line.versions[i].content["name"] for i in found.index]


def test_snapshots_apply_from_when_seen_until_the_next_one():
    line = Timeline([version(200, name="B"), version(100, name="A")])
    assert names(line, [100, 150, 199, 200, 10**9]) == ["A", "A", "A", "B", "B"]
    assert not line.lookup([100, 150, 200]).assumed.any()


def test_declared_ranges_win_over_snapshots_only_inside_their_range():
    line = Timeline([version(100, name="S1"), version(200, name="S2"),
                     version(150, DECLARED, until=180, name="D")])
    assert names(line, [120, 150, 179, 180, 210]) == ["S1", "D", "D", "S1", "S2"]


def test_an_open_declaration_runs_until_the_next_version():
    line = Timeline([version(100, DECLARED, name="D"), version(200, name="S")])
    assert names(line, [100, 199, 200, 500]) == ["D", "D", "S", "S"]
    assert Timeline([version(100, DECLARED, name="D")]).end_of(0) is None


def test_overlapping_declarations_the_later_start_wins():
    line = Timeline([version(100, DECLARED, until=300, name="long"),
                     version(200, DECLARED, until=250, name="short")])
    assert names(line, [150, 220, 260]) == ["long", "short", "long"]


def test_instants_before_the_first_version_take_the_earliest_and_are_flagged():
    line = Timeline([version(500, name="late"), version(300, name="early")])
    found = line.lookup([100, 299, 300])
    assert names(line, [100, 299, 300]) == ["early", "early", "early"]
    assert found.assumed.tolist() == [True, True, False]
    assert line.first_start() == 300


def test_a_gap_after_a_declared_range_takes_the_next_version_and_is_flagged():
    line = Timeline([version(100, DECLARED, until=200, name="D"), version(300, name="S")])
    found = line.lookup([150, 250, 350])
    assert names(line, [150, 250, 350]) == ["D", "S", "S"]
    assert found.assumed.tolist() == [False, True, False]


def test_a_gap_after_the_last_declared_range_takes_the_last_version():
    line = Timeline([version(100, DECLARED, until=200, name="D")])
    assert names(line, [500]) == ["D"] and line.lookup([500]).assumed.tolist() == [True]


def test_an_empty_timeline_knows_nothing():
    found = Timeline([]).lookup([1, 2])
    assert found.assumed.all() and not Timeline([])


def test_equal_tariffs_hash_equally_whatever_the_key_order():
    content = three_season()
    shuffled = dict(reversed(list(content.items())))
    assert content_sha256(content) == content_sha256(shuffled)
    assert content_sha256(content) != content_sha256({**content, "name": "other"})
    assert TariffVersion(1, SNAPSHOT, content).sha256 == content_sha256(content)


def test_unknown_sources_are_refused():
    with pytest.raises(ValueError):
        TariffVersion(1, "guess", fixture("flat"))
