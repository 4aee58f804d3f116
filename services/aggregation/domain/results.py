"""Reading a simulation's result files (contracts.results.v1), one year at a time.

A simulation writes, per year, `households.parquet` and `people.parquet`, as one file
each or one per partition. Files of one year and name are stacked and sorted by
household_id / person_id, so a report does not depend on how the work was split.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from contracts.results.v1 import HOUSEHOLDS_FILE, PEOPLE_FILE
from services.aggregation.domain.columns import (
    HOUSEHOLD_COLUMNS,
    OPTIONAL_HOUSEHOLD_COLUMNS,
    OPTIONAL_PERSON_COLUMNS,
    PERSON_COLUMNS,
    ResultsError,
)

ROW_KEYS = {HOUSEHOLDS_FILE: "household_id", PEOPLE_FILE: "person_id"}


@dataclass(frozen=True)
class ResultFileContent:
    """The bytes of one result file, with where it came from and its announced hash."""

    uri: str
    sha256: str
    data: bytes
    name: str | None = None
    year: int | None = None
    partition: int | None = None

    @property
    def file_name(self) -> str:
        """`households.parquet` or `people.parquet`: as announced, else the URI's last part."""
        return self.name or self.uri.rstrip("/").rsplit("/", 1)[-1]


def years_of(
    files: Iterable[ResultFileContent], default_year: int
) -> dict[int, list[ResultFileContent]]:
    """The files of each year, years ascending; a file without a year is `default_year`'s."""
    by_year: dict[int, list[ResultFileContent]] = {}
    for file in files:
        by_year.setdefault(file.year if file.year is not None else default_year, []).append(file)
    return dict(sorted(by_year.items()))


def read_results(files: Sequence[ResultFileContent]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The household and person frames of one year, with the columns reports use.

    A file whose SHA-256 is not the announced one is refused.
    """
    households = read_frame(
        files, HOUSEHOLDS_FILE, (*HOUSEHOLD_COLUMNS, *OPTIONAL_HOUSEHOLD_COLUMNS)
    )
    people = read_frame(files, PEOPLE_FILE, (*PERSON_COLUMNS, *OPTIONAL_PERSON_COLUMNS))
    return households, people


def read_frame(
    files: Sequence[ResultFileContent], name: str, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """The stacked `name` files of one year (all columns when `columns` is None).

    Rows are sorted by their id (household_id, person_id) when the files have it.
    """
    frames: list[pd.DataFrame] = []
    for file in sorted(files, key=lambda f: (f.partition or 0, f.uri)):
        if file.file_name != name:
            continue
        if hashlib.sha256(file.data).hexdigest() != file.sha256:
            raise ResultsError(f"{file.uri} does not match its SHA-256")
        frames.append(_read_parquet(file.data, columns))
    if not frames:
        raise ResultsError(f"results need both {HOUSEHOLDS_FILE} and {PEOPLE_FILE}")
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    key = ROW_KEYS[name]
    if key in frame.columns:
        frame = frame.sort_values(key, kind="mergesort", ignore_index=True)
    return frame


def _read_parquet(data: bytes, columns: Sequence[str] | None) -> pd.DataFrame:
    source = pq.ParquetFile(io.BytesIO(data))
    if columns is None:
        table = source.read()
    else:
        present = set(source.schema_arrow.names)
        table = source.read(columns=[column for column in columns if column in present])
    frame: pd.DataFrame = table.to_pandas()
    return frame


def stacked_parquet(files: Sequence[ResultFileContent], name: str = HOUSEHOLDS_FILE) -> bytes:
    """One Parquet file of a year's `name` files, every column, sorted by row id.

    The same rows give the same bytes however they were partitioned.
    """
    frame = read_frame(files, name)
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    return buffer.getvalue()
