"""The export's file formats: a chunk of InfluxDB rows as a typed DataFrame, and writers that
append chunks to a CSV or Parquet file (written as ``PATH.part``, renamed when finished).

Column types come from the measurement's ``SHOW FIELD KEYS`` so every chunk has the same
schema: float → float64, integer → Int64, boolean → boolean, string → string (missing values
stay empty, never 0). pyarrow is imported only for Parquet (the optional ``parquet`` extra).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd

PANDAS_TYPES = {"float": "float64", "integer": "Int64", "boolean": "boolean",
                "string": "string"}


def chunk_frame(rows: list[dict[str, Any]], layout: Any) -> pd.DataFrame:
    """Rows (``time`` in ns) → a DataFrame with ``layout``'s columns and types."""
    frame = pd.DataFrame.from_records(rows, columns=layout.columns)
    frame["time"] = pd.to_datetime(frame["time"].astype("int64"), unit="ns", utc=True)
    for tag in layout.tags:
        frame[tag] = frame[tag].astype("string")
    for name, kind in layout.fields.items():
        frame[name] = _typed(frame[name], kind)
    return frame


def _typed(column: pd.Series, kind: str) -> pd.Series:
    if kind == "float":
        return pd.to_numeric(column, errors="coerce").astype("float64")
    if kind == "integer":
        return pd.to_numeric(column, errors="coerce").astype("Int64")
    if kind == "boolean":
        return column.astype("boolean")
    return column.astype("string")


class _FileWriter:
    """Writes into ``PATH.part`` and renames it to ``PATH`` on ``finish`` (``-`` = stdout)."""

    def __init__(self, output: str) -> None:
        self.stdout = output == "-"
        self.final = None if self.stdout else Path(output)
        self.part = None if self.final is None else self.final.with_name(
            self.final.name + ".part")

    def finish(self) -> None:
        self.close()
        if self.part is not None and self.final is not None:
            os.replace(self.part, self.final)

    def abort(self) -> None:
        self.close()
        if self.part is not None:
            self.part.unlink(missing_ok=True)

    def close(self) -> None:
        raise NotImplementedError


class CsvWriter(_FileWriter):
    def __init__(self, output: str, layout: Any) -> None:
        super().__init__(output)
        self.layout = layout
        self.stream = sys.stdout if self.part is None else open(  # noqa: SIM115
            self.part, "w", encoding="utf-8", newline="")
        self.stream.write(",".join(layout.columns) + "\n")

    def write(self, frame: pd.DataFrame) -> None:
        frame = frame.copy()
        frame["time"] = iso_utc(frame["time"])
        for name, kind in self.layout.fields.items():
            if kind == "boolean":
                frame[name] = frame[name].map({True: "true", False: "false"}, na_action="ignore")
        frame.to_csv(self.stream, header=False, index=False, lineterminator="\n",
                     float_format="%.10g")

    def close(self) -> None:
        if self.part is not None and not self.stream.closed:
            self.stream.close()
        elif self.part is None:
            self.stream.flush()


def iso_utc(times: pd.Series) -> pd.Series:
    """ISO 8601 with an explicit ``+00:00`` (sub-seconds only when a point has them)."""
    whole = (times.astype("int64") % 10**9 == 0).all()
    pattern = "%Y-%m-%dT%H:%M:%S+00:00" if whole else "%Y-%m-%dT%H:%M:%S.%f+00:00"
    return times.dt.strftime(pattern)


class ParquetWriter(_FileWriter):
    def __init__(self, output: str, layout: Any) -> None:
        super().__init__(output)
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.schema = pa.schema(
            [pa.field("time", pa.timestamp("ns", tz="UTC"))]
            + [pa.field(tag, pa.string()) for tag in layout.tags]
            + [pa.field(name, _arrow_type(pa, kind)) for name, kind in layout.fields.items()])
        self.writer = pq.ParquetWriter(str(self.part), self.schema)

    def write(self, frame: pd.DataFrame) -> None:
        table = self.pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _arrow_type(pa: Any, kind: str) -> Any:
    return {"float": pa.float64(), "integer": pa.int64(), "boolean": pa.bool_()}.get(
        kind, pa.string())


def open_writer(fmt: str, output: str, layout: Any) -> CsvWriter | ParquetWriter:
    return ParquetWriter(output, layout) if fmt == "parquet" else CsvWriter(output, layout)
