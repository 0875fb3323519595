"""Line-protocol serializer: escaping, types, absent values, precision."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from collector.transform import Frame, to_line_protocol
from collector.transform.frame import utc_index


def _frame(columns: dict, tags: tuple[str, ...] = (), seconds=(1700000000,),
           measurement: str = "m") -> Frame:
    return Frame(measurement, pd.DataFrame(columns, index=utc_index(seconds)), tags)


def test_escaping_rules() -> None:
    frame = _frame({"site name": ["a,b=c d"], "path": ["x\\y"], "field key=1": ['say "hi" \\o/']},
                   tags=("site name", "path"), measurement="my,meas ure")
    assert to_line_protocol(frame) == [
        'my\\,meas\\ ure,site\\ name=a\\,b\\=c\\ d,path=x\\y '
        'field\\ key\\=1="say \\"hi\\" \\\\o/" 1700000000'
    ]


def test_types_follow_dtypes() -> None:
    frame = _frame({
        "f": np.array([1.0, 2.5]),
        "i": pd.array([3, None], dtype="Int64"),
        "b": pd.array([True, False], dtype="boolean"),
        "s": np.array(["x", None], dtype=object),
    }, seconds=(1, 2))
    assert to_line_protocol(frame) == ['m f=1.0,i=3i,b=true,s="x" 1', "m f=2.5,b=false 2"]


def test_missing_values_and_tags_are_left_out_and_empty_points_dropped() -> None:
    frame = _frame({"t": ["", None, "z"], "f": [np.nan, np.inf, 1.0]}, tags=("t",),
                   seconds=(1, 2, 3))
    assert to_line_protocol(frame) == ["m,t=z f=1.0 3"]


def test_newline_in_values_cannot_break_a_line() -> None:
    frame = _frame({"t": ["a\nb"], "s": ["x\ny"]}, tags=("t",))
    (line,) = to_line_protocol(frame)
    assert "\n" not in line


def test_sub_second_timestamps_are_refused() -> None:
    index = pd.DatetimeIndex([pd.Timestamp("2024-01-01T00:00:00.5Z")], name="time")
    frame = Frame("m", pd.DataFrame({"f": [1.0]}, index=index))
    with pytest.raises(ValueError, match="whole seconds"):
        to_line_protocol(frame)


def test_frame_requires_utc_index_and_known_tags() -> None:
    with pytest.raises(ValueError, match="UTC"):
        Frame("m", pd.DataFrame({"f": [1.0]}, index=pd.DatetimeIndex(["2024-01-01"])))
    with pytest.raises(ValueError, match="tag columns"):
        _frame({"f": [1.0]}, tags=("missing",))


def test_large_frame_is_serialized_in_order() -> None:
    count = 20_000
    frame = _frame({"site_id": ["1"] * count, "v": np.arange(count, dtype="float64")},
                   tags=("site_id",), seconds=range(count))
    lines = to_line_protocol(frame)
    assert len(lines) == count
    assert lines[12345] == "m,site_id=1 v=12345.0 12345"


def _reference(frame: Frame) -> list[str]:
    """Row by row, the plain way: what the vectorized serializer must produce (fields in
    column order, constant string fields last)."""
    data = frame.data
    lines = []
    for stamp, row in zip(data.index.as_unit("s").asi8.tolist(), data.itertuples(index=False),
                          strict=True):
        values = dict(zip(data.columns, row, strict=True))
        head = frame.measurement + "".join(f",{t}={values[t]}" for t in frame.tags)
        floats = [f"{k}={v!r}" for k, v in values.items()
                  if k not in frame.tags and isinstance(v, float) and v == v]
        strings = [f'{k}="{v}"' for k, v in values.items()
                   if k not in frame.tags and isinstance(v, str)]
        lines.append(f"{head} {','.join(floats + strings)} {stamp}")
    return lines


def test_a_string_field_equal_on_every_row_is_written_on_every_row() -> None:
    frame = _frame({"site_id": ["1", "1", "2"], "price": [0.1, 0.2 + 0.1, float("nan")],
                    "sha": ["abc", "abc", "abc"]}, tags=("site_id",), seconds=(1, 2, 3))
    assert to_line_protocol(frame) == [
        'm,site_id=1 price=0.1,sha="abc" 1', 'm,site_id=1 price=0.30000000000000004,sha="abc" 2',
        'm,site_id=2 sha="abc" 3']


def test_repeated_rows_of_a_large_frame_are_formatted_once(monkeypatch) -> None:
    from collector.transform import lineprotocol

    count = 3000
    rng = np.random.default_rng(1)
    values = rng.choice([0.0, 0.125, 1 / 3, 2.5e-7, 1e20, -0.0], size=(count, 2))
    frame = _frame({"site_id": np.where(np.arange(count) % 2, "a", "b"),
                    "x": values[:, 0], "y": values[:, 1], "sha": ["f00"] * count},
                   tags=("site_id",), seconds=range(count))
    formatted = []
    original = lineprotocol._bodies
    monkeypatch.setattr(lineprotocol, "_bodies",
                        lambda f, lit: formatted.append(len(f)) or original(f, lit))
    assert to_line_protocol(frame) == _reference(frame)
    assert formatted == [2 * 6 * 6]  # one body per distinct (site_id, x, y)
