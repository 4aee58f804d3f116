"""The on-storage shape of a population (microdata) in PolicyEngine's entity layout.

A dataset is a folder holding one Parquet file per PolicyEngine US entity, with
PolicyEngine variable names as columns and `<entity>_id` / `person_<entity>_id`
links, so that `USSingleYearDataset` loads the frames as they are.
"""

from __future__ import annotations

import hashlib
import io

import pandas as pd

from shared import storage

ENTITIES: tuple[str, ...] = (
    "person",
    "household",
    "tax_unit",
    "spm_unit",
    "family",
    "marital_unit",
)
GROUP_ENTITIES: tuple[str, ...] = ENTITIES[1:]

Population = dict[str, pd.DataFrame]


def file_name(entity: str) -> str:
    return f"{entity}.parquet"


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    """Deterministic Parquet bytes: same frame, same bytes."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow", index=False, compression="zstd")
    return buffer.getvalue()


def content_sha256(files: dict[str, bytes]) -> str:
    """The dataset's content hash: SHA-256 over each entity file's name and SHA-256."""
    digest = hashlib.sha256()
    for entity in ENTITIES:
        digest.update(file_name(entity).encode())
        digest.update(hashlib.sha256(files[entity]).digest())
    return digest.hexdigest()


def write_population(root_uri: str, files: dict[str, bytes]) -> None:
    """Store the six entity files under `root_uri` (idempotent: same files overwrite)."""
    for entity in ENTITIES:
        storage.write_bytes(storage.join(root_uri, file_name(entity)), files[entity])


def read_population_files(root_uri: str) -> dict[str, bytes]:
    return {
        entity: storage.read_bytes(storage.join(root_uri, file_name(entity))) for entity in ENTITIES
    }


def read_population(root_uri: str) -> Population:
    """Load the six entity frames; strings become numpy object arrays of `str`.

    policyengine-core needs plain `str` objects, not Arrow or pandas string dtypes.
    """
    population: Population = {}
    for entity, data in read_population_files(root_uri).items():
        frame = pd.read_parquet(io.BytesIO(data), engine="pyarrow")
        for column in frame.columns:
            if not (
                pd.api.types.is_numeric_dtype(frame[column])
                or pd.api.types.is_bool_dtype(frame[column])
            ):
                frame[column] = frame[column].astype(str).to_numpy(dtype=object)
        population[entity] = frame
    return population
