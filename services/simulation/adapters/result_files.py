"""A simulation's files in storage: the dataset's households per state, a partition's
result files, and the deciles ranked again over a year split in several partitions.

Plain blocking I/O: the handlers call these off the event loop, and never while they
hold a row lock (handlers/partition_results.py).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import pandas as pd

from contracts.results.v1 import HOUSEHOLDS_FILE, PEOPLE_FILE
from services.simulation.domain.deciles import deciles_in_dataset_order
from services.simulation.domain.partitions import (
    Partition,
    PartitionJob,
    RankedFiles,
    households_by_state,
    years_to_rank,
)
from services.simulation.domain.results import StoredResult, partition_root
from shared import storage
from shared.population import file_name, to_parquet_bytes
from shared.states import POSTAL_CODE_BY_FIPS


def read_households_by_state(storage_uri: str) -> dict[str, int]:
    """Households per state of a stored dataset, reading only its `state_fips` column."""
    data = storage.read_bytes(storage.join(storage_uri, file_name("household")))
    frame = pd.read_parquet(io.BytesIO(data), columns=["state_fips"], engine="pyarrow")
    return households_by_state(frame["state_fips"].to_numpy(), POSTAL_CODE_BY_FIPS)


def write_partition_files(
    storage_root: str, job: PartitionJob, households: pd.DataFrame, people: pd.DataFrame
) -> list[StoredResult]:
    """Write a computed partition's files: the same objects on every attempt, so a
    redelivery overwrites them."""
    root = partition_root(storage_root, job.simulation_id, job.year, job.partition)
    stored = []
    for name, frame in ((HOUSEHOLDS_FILE, households), (PEOPLE_FILE, people)):
        data = to_parquet_bytes(frame)
        uri = storage.join(root, name)
        storage.write_bytes(uri, data)
        stored.append(
            StoredResult.of(
                name, uri, data, rows=len(frame), year=job.year, partition=job.partition
            )
        )
    return stored


def rank_years(dataset_uri: str, partitions: Sequence[Partition]) -> RankedFiles:
    """Rank the deciles of each year split over several of these partitions (each with
    its files) over the whole year, rewriting their household files."""
    basis: dict[int, tuple[StoredResult, ...] | None] = {}
    ranked: dict[int, tuple[StoredResult, ...]] = {}
    for of_year in years_to_rank(partitions).values():
        files = [p.results or () for p in of_year]
        for partition, rewritten in zip(of_year, rank_deciles(dataset_uri, files), strict=True):
            basis[partition.index] = partition.results
            ranked[partition.index] = tuple(rewritten)
    return RankedFiles(basis=basis, ranked=ranked)


def rank_deciles(
    dataset_uri: str, partitions: Sequence[Sequence[StoredResult]]
) -> list[list[StoredResult]]:
    """Rewrite one year's household files with deciles ranked over all of them.

    Returns each partition's files, the household file's checksum updated.
    Idempotent: the same partitions give the same bytes.
    """
    household = pd.read_parquet(
        io.BytesIO(storage.read_bytes(storage.join(dataset_uri, file_name("household")))),
        columns=["household_id"],
        engine="pyarrow",
    )
    uris = [_file(files, HOUSEHOLDS_FILE).uri for files in partitions]
    frames = [pd.read_parquet(io.BytesIO(storage.read_bytes(uri))) for uri in uris]
    everyone = pd.concat(frames, ignore_index=True)
    deciles = deciles_in_dataset_order(everyone, household["household_id"].to_numpy())
    rewritten: list[list[StoredResult]] = []
    start = 0
    for files, frame, uri in zip(partitions, frames, uris, strict=True):
        for column, ranked in deciles.items():
            frame[column] = ranked[start : start + len(frame)]
        start += len(frame)
        data = to_parquet_bytes(frame)
        storage.write_bytes(uri, data)
        household_file = _file(files, HOUSEHOLDS_FILE)
        updated = StoredResult.of(
            HOUSEHOLDS_FILE,
            uri,
            data,
            rows=len(frame),
            year=household_file.year,
            partition=household_file.partition,
        )
        rewritten.append([updated if file.name == HOUSEHOLDS_FILE else file for file in files])
    return rewritten


def _file(files: Sequence[StoredResult], name: str) -> StoredResult:
    return next(file for file in files if file.name == name)
