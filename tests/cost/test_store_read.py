"""Reading stored points back (``collector.cost.store._select``): the columnar path over
``query_series`` gives exactly the frame the row path over ``query_influxql`` gives (values,
dtypes, column order, index), against a real influxd: month-sized chunks, a field that is
null in a whole chunk, a tag column, and no points at all."""

from __future__ import annotations

import pandas as pd

from collector.cost import store
from tests.backfill.conftest import sink  # noqa: F401

START = 1_700_000_000  # 2023-11-14
DAY = 86_400


class RowsOnly:
    """The sink seen through ``query_influxql`` alone (as wrapping and dry-run sinks are)."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def query_influxql(self, *args, **kwargs):
        return self.inner.query_influxql(*args, **kwargs)


def _write(sink) -> None:  # noqa: F811
    lines = []
    for day in range(75):  # three month-sized chunks
        stamp = START + day * DAY
        solar = "" if day < 35 else f",solar={day * 1.5}"  # null in the whole first chunk
        lines.append(f"energy_history,site_id=7 grid={day}.0{solar} {stamp}")
        lines.append(f"energy_history,site_id=8 grid=-1.0 {stamp}")
        lines.append(f'energy_cost,site_id=7,currency=USD cost={day / 4} {stamp}')
    assert sink.write(lines).complete


def test_the_series_path_reads_the_frame_the_row_path_reads(sink) -> None:  # noqa: F811
    _write(sink)
    cases = [("energy_history", ("grid", "solar"), True, 7, START, START + 75 * DAY),
             ("energy_history", ("grid", "solar"), True, 7, START, START + 20 * DAY),
             ("energy_cost", ("cost", "currency"), False, 7, START, START + 75 * DAY),
             ("energy_history", ("grid", "solar"), True, 9, START, START + 75 * DAY)]
    for measurement, columns, chunked, site, lo, hi in cases:
        fast = store._select(sink, measurement, columns, site, lo, hi, chunked=chunked)
        slow = store._select(RowsOnly(sink), measurement, columns, site, lo, hi,
                             chunked=chunked)
        pd.testing.assert_frame_equal(fast, slow)
        assert list(fast.columns) == list(slow.columns)
    full = store._select(sink, "energy_history", ("grid", "solar"), 7, START, START + 75 * DAY)
    assert len(full) == 75 and full["solar"].isna().sum() == 35
    assert full.index.is_monotonic_increasing and full["grid"].tolist() == list(range(75))
