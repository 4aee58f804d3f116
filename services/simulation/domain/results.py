"""A simulation's result files: where they live, what they must hold, how they are described."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pandas as pd

from contracts.events.simulation.v1 import ResultFile
from contracts.results.v1 import HOUSEHOLDS_FILE, PEOPLE_FILE, household_columns, person_columns
from shared.storage import join


class ResultShapeError(ValueError):
    """The engine returned a table that is not the published results format."""


def results_root(storage_root: str, simulation_id: str) -> str:
    """The folder of one simulation's results: the same on every attempt, so rewrites replace."""
    return join(storage_root, "results", simulation_id)


def expected_columns(name: str) -> list[str]:
    if name == HOUSEHOLDS_FILE:
        return household_columns()
    if name == PEOPLE_FILE:
        return person_columns()
    raise KeyError(name)


def check_columns(name: str, frame: pd.DataFrame) -> None:
    """Refuse a table whose columns differ from contracts.results.v1, in name or order."""
    expected = expected_columns(name)
    actual = [str(column) for column in frame.columns]
    if actual != expected:
        missing = [c for c in expected if c not in actual]
        extra = [c for c in actual if c not in expected]
        raise ResultShapeError(
            f"{name} does not match the results format: missing {missing}, unexpected {extra}"
            if missing or extra
            else f"{name} has the results columns in another order"
        )


@dataclass(frozen=True)
class StoredResult:
    """One written result file."""

    name: str
    uri: str
    sha256: str
    rows: int

    @classmethod
    def of(cls, name: str, uri: str, data: bytes, rows: int) -> StoredResult:
        return cls(name=name, uri=uri, sha256=hashlib.sha256(data).hexdigest(), rows=rows)

    def as_record(self) -> dict[str, Any]:
        return {"name": self.name, "uri": self.uri, "sha256": self.sha256, "rows": self.rows}

    def as_event_file(self) -> ResultFile:
        return ResultFile(uri=self.uri, sha256=self.sha256, rows=self.rows)
