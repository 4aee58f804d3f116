"""A simulation's result files: where they live, what they must hold, how they are described."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from contracts.events.simulation.v1 import ResultFile
from contracts.results.v1 import (
    HOUSEHOLDS_FILE,
    OPTIONAL_HOUSEHOLD_KEYS,
    OPTIONAL_PERSON_KEYS,
    PEOPLE_FILE,
    POLICIES,
    household_columns,
    person_columns,
)
from shared.storage import join


class ResultShapeError(ValueError):
    """The engine returned a table that is not the published results format."""


def results_root(storage_root: str, simulation_id: str) -> str:
    """The folder of one simulation's results."""
    return join(storage_root, "results", simulation_id)


def partition_root(storage_root: str, simulation_id: str, year: int, partition: int) -> str:
    """The folder of one partition's results: the same on every attempt, so rewrites replace."""
    return join(results_root(storage_root, simulation_id), str(year), f"partition-{partition:04d}")


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
    trailing = actual[len(expected) :]
    if actual[: len(expected)] == expected and all(_optional(name, c) for c in trailing):
        return
    if actual != expected:
        missing = [c for c in expected if c not in actual]
        extra = [c for c in actual if c not in expected]
        raise ResultShapeError(
            f"{name} does not match the results format: missing {missing}, unexpected {extra}"
            if missing or extra
            else f"{name} has the results columns in another order"
        )


def _optional(name: str, column: str) -> bool:
    """Columns the engine may add after the contract's: optional keys, extra columns per
    policy."""
    keys = OPTIONAL_PERSON_KEYS if name == PEOPLE_FILE else OPTIONAL_HOUSEHOLD_KEYS
    return column in keys or column.startswith(tuple(f"{policy}_" for policy in POLICIES))


@dataclass(frozen=True)
class StoredResult:
    """One written result file."""

    name: str
    uri: str
    sha256: str
    rows: int
    year: int | None = None
    partition: int | None = None

    @classmethod
    def of(
        cls,
        name: str,
        uri: str,
        data: bytes,
        rows: int,
        *,
        year: int | None = None,
        partition: int | None = None,
    ) -> StoredResult:
        return cls(
            name=name,
            uri=uri,
            sha256=hashlib.sha256(data).hexdigest(),
            rows=rows,
            year=year,
            partition=partition,
        )

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> StoredResult:
        """The file a stored record (`as_record`) describes."""
        return cls(
            name=record["name"],
            uri=record["uri"],
            sha256=record["sha256"],
            rows=record["rows"],
            year=record.get("year"),
            partition=record.get("partition"),
        )

    def as_record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "uri": self.uri,
            "sha256": self.sha256,
            "rows": self.rows,
            "year": self.year,
            "partition": self.partition,
        }

    def as_event_file(self) -> ResultFile:
        return ResultFile(
            uri=self.uri,
            sha256=self.sha256,
            rows=self.rows,
            name=self.name,
            year=self.year,
            partition=self.partition,
        )
