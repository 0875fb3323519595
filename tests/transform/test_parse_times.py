"""``parse_times`` (vectorized, for history replies) accepts and computes exactly what
``parse_time`` does, value by value, on the API's canonical form and on everything near it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.transform.fields import MalformedRecord
from collector.transform.frame import parse_time, parse_times


def _one_by_one(values: list[object]) -> tuple[list[int], list[bool]]:
    seconds, bad = [], []
    for value in values:
        try:
            seconds.append(parse_time(value))
            bad.append(False)
        except MalformedRecord:
            seconds.append(0)
            bad.append(True)
    return seconds, bad


def _check(values: list[object]) -> None:
    seconds, bad = parse_times(values)
    assert (seconds.tolist(), bad.tolist()) == _one_by_one(values)


_offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
_moments = st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=st.just(UTC))
_canonical = st.builds(lambda moment, zone: moment.replace(microsecond=0).astimezone(zone)
                       .isoformat(), _moments, _offsets)


@st.composite
def _near_canonical(draw: st.DrawFn) -> str:
    """A canonical stamp with one character replaced, dropped or added (bad dates, hours
    of 24, offsets of 24 h, non-ASCII digits, a trailing NUL...)."""
    text = draw(_canonical)
    position = draw(st.integers(0, len(text) - 1))
    char = draw(st.sampled_from("0123456789+-:TZ ٣\x00"))
    how = draw(st.sampled_from(["replace", "drop", "add"]))
    if how == "drop":
        return text[:position] + text[position + 1:]
    return text[:position] + char + text[position + (how == "replace"):]


_stamps = st.one_of(_canonical, _near_canonical(), st.sampled_from([
    "2024-02-29T12:00:00+00:00", "2023-02-29T12:00:00+00:00", "1900-02-29T00:00:00+01:00",
    "2000-02-29T00:00:00-01:00", "2024-11-03T01:30:00-07:00", "2024-11-03T01:30:00-08:00",
    "2024-07-01T24:00:00+00:00", "2024-07-01T00:00:00+24:00", "0000-01-01T00:00:00+00:00",
    "2024-07-01T00:00:00Z", "2024-07-01T00:00:00.5+00:00", "2024-07-01T00:00:00"]))


@settings(max_examples=400, deadline=None)
@given(values=st.lists(_stamps, max_size=12))
def test_strings_parse_exactly_as_one_by_one(values) -> None:
    _check(values)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.one_of(_stamps, st.none(), st.integers(), st.text(max_size=30),
                                 st.fixed_dictionaries({"seconds": st.integers(0, 2**40)})),
                       max_size=8))
def test_mixed_values_parse_exactly_as_one_by_one(values) -> None:
    _check(values)


def test_a_day_of_canonical_stamps_across_a_dst_change() -> None:
    start = datetime(2024, 11, 3, 0, 0, tzinfo=timezone(timedelta(hours=-7)))
    stamps = [(start + timedelta(minutes=5 * i)).isoformat() for i in range(288)]
    stamps[30:] = [s.replace("-07:00", "-08:00") for s in stamps[30:]]
    seconds, bad = parse_times(stamps)
    assert not bad.any() and seconds.tolist() == _one_by_one(stamps)[0]
