"""Entity files parsed into frames, with each column in the type its variable declares.

Parquet keeps its types. CSV and HDF5 lose some: a CSV column of county codes reads as
numbers without their leading zeros, and HDF5 tables store booleans as bytes 0/1 and
text as byte strings. Columns are therefore read, or converted, by the kind
policyengine-us declares for their variable (services.dataset.domain.variables).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from services.dataset.domain.archive import CSV, entry_name
from services.dataset.domain.variables import catalog
from shared.population import Population
from shared.problems import FieldError


def read_frames(files: dict[str, bytes], kind: str) -> tuple[Population, list[FieldError]]:
    """Parse each entity file as Parquet or as CSV."""
    population: Population = {}
    errors: list[FieldError] = []
    for entity, data in files.items():
        try:
            if kind == CSV:
                population[entity] = typed(_read_csv(data))
            else:
                population[entity] = pd.read_parquet(io.BytesIO(data), engine="pyarrow")
        except Exception as exc:  # pyarrow and the CSV parser raise many types for bad input
            label = "CSV" if kind == CSV else "Parquet"
            errors.append(
                FieldError(
                    field=entry_name(entity, kind),
                    message=f"is not a readable {label} file ({reason_of(exc)})",
                )
            )
    return population, errors


def _read_csv(data: bytes) -> pd.DataFrame:
    header = pd.read_csv(io.BytesIO(data), nrows=0).columns
    text = [column for column in header if _kind_of(str(column)) == "text"]
    return pd.read_csv(
        io.BytesIO(data),
        dtype={column: str for column in text},
        keep_default_na=False,
        na_values={column: [""] for column in header if column not in text},
    )


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with text variables as `str` and 0/1 boolean variables as booleans.

    A column whose values do not fit its kind is left as it is, for validation to name.
    """
    converted: dict[str, pd.Series] = {}
    for column in frame.columns:
        kind = _kind_of(str(column))
        values = frame[column]
        if (kind == "text" and values.dtype == object) or values.dtype.kind == "S":
            converted[column] = _as_text(values)
        elif kind == "bool" and values.dtype.kind in "iu" and values.isin([0, 1]).all():
            converted[column] = values.astype(bool)
    return frame.assign(**converted) if converted else frame


def _as_text(values: pd.Series) -> pd.Series:
    def text(value: object) -> object:
        if isinstance(value, bytes):
            return value.decode("utf-8", errors="replace")
        return value

    return pd.Series(np.asarray([text(v) for v in values], dtype=object), index=values.index)


def _kind_of(column: str) -> str | None:
    variable = catalog().get(column)
    return variable.kind if variable is not None else None


def reason_of(exc: BaseException) -> str:
    """The first line of an exception's message, short enough for a problem."""
    message = str(exc).strip()
    return message.splitlines()[0][:200] if message else type(exc).__name__
