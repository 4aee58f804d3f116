"""Reading a simulation's household-level result files (contracts.results.v1)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import pyarrow.parquet as pq

from contracts.results.v1 import HOUSEHOLDS_FILE, PEOPLE_FILE
from services.aggregation.domain.report import HOUSEHOLD_COLUMNS, PERSON_COLUMNS, ResultsError


@dataclass(frozen=True)
class ResultFileContent:
    """The bytes of one result file, with where it came from and its announced hash."""

    uri: str
    sha256: str
    data: bytes


def read_results(files: Sequence[ResultFileContent]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The household and person frames of a simulation, with only the columns reports use.

    Files are told apart by name; several files of one kind (one per partition) are
    stacked. A file whose SHA-256 is not the announced one is refused.
    """
    households: list[pd.DataFrame] = []
    people: list[pd.DataFrame] = []
    for file in files:
        if hashlib.sha256(file.data).hexdigest() != file.sha256:
            raise ResultsError(f"{file.uri} does not match its SHA-256")
        name = file.uri.rstrip("/").rsplit("/", 1)[-1]
        if name == HOUSEHOLDS_FILE:
            households.append(_read_parquet(file.data, HOUSEHOLD_COLUMNS))
        elif name == PEOPLE_FILE:
            people.append(_read_parquet(file.data, PERSON_COLUMNS))
    if not households or not people:
        raise ResultsError(f"results need both {HOUSEHOLDS_FILE} and {PEOPLE_FILE}")
    return _stacked(households), _stacked(people)


def _read_parquet(data: bytes, columns: tuple[str, ...]) -> pd.DataFrame:
    source = pq.ParquetFile(io.BytesIO(data))
    present = set(source.schema_arrow.names)
    table = source.read(columns=[column for column in columns if column in present])
    frame: pd.DataFrame = table.to_pandas()
    return frame


def _stacked(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
