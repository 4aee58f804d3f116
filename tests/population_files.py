"""One population written as the files PolicyEngine users have, for tests and benchmarks.

Nothing here imports policyengine-us: files its classes write are made by the callers
that may import it (tests/service/test_dataset_formats.py, benchmarks/uploads.py).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from shared.population import (
    ENTITIES,
    Population,
    read_population,
    to_parquet_bytes,
    write_population,
)


def stored(population: Population, root: str) -> Population:
    """`population` written to storage under `root` as Parquet and read back, with the
    column types storage gives (as the engine receives a dataset)."""
    write_population(root, {entity: to_parquet_bytes(population[entity]) for entity in ENTITIES})
    return read_population(root)


def parquet_zip(population: Population) -> bytes:
    return _zipped(population, "parquet", zipfile.ZIP_STORED)


def csv_zip(population: Population) -> bytes:
    return _zipped(population, "csv", zipfile.ZIP_DEFLATED)


def _zipped(population: Population, kind: str, compression: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for entity in ENTITIES:
            frame = population[entity]
            data = to_parquet_bytes(frame) if kind == "parquet" else frame.to_csv(index=False)
            archive.writestr(f"{entity}.{kind}", data)
    return buffer.getvalue()


def rezip(source: bytes, change: Callable[[dict[str, bytes]], dict[str, bytes]]) -> bytes:
    """The zip archive `source` with its entries, by name, as `change` makes them."""
    with zipfile.ZipFile(io.BytesIO(source)) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in change(entries).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def stored_array(values: pd.Series) -> np.ndarray:
    """A column as policyengine-us-data stores it in HDF5: text as byte strings."""
    numeric = pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
    array: np.ndarray = values.to_numpy() if numeric else values.astype(str).to_numpy().astype("S")
    return array


def variable_arrays(population: Population) -> dict[str, np.ndarray]:
    """Every column of every entity, by variable name."""
    return {
        str(column): stored_array(frame[column])
        for frame in population.values()
        for column in frame.columns
    }


def variable_arrays_h5(population: Population, path: Path, year: str | None = "2025") -> bytes:
    """`/<variable>/<year>` arrays (or `/<variable>` without a year) written with h5py."""
    with h5py.File(path, "w") as file:
        for name, array in variable_arrays(population).items():
            file.create_dataset(f"{name}/{year}" if year else name, data=array)
    return path.read_bytes()
