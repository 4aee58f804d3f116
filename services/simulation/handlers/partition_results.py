"""Finishing a calculated partition: its files, its count, and the simulation's end.

In one unit of work, under the simulation's row lock: record the delivery in the
inbox, write the partition's files (the same objects on every attempt: a redelivery
overwrites), mark the partition done, count it on the simulation and put
`simulation.progress` in the outbox. Whoever counts the last partition also ranks
each year's deciles over the whole population, marks the simulation completed and
emits `simulation.completed`; if its dataset was deleted meanwhile and no dataset left
has its content, it then removes the baselines its partitions kept of it.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from contracts.envelope import CloudEvent
from contracts.events.simulation.v1 import ResultFile, SimulationCompleted, SimulationProgress
from contracts.results.v1 import HOUSEHOLDS_FILE, PEOPLE_FILE
from services.simulation.adapters.baselines import remove_dataset_baselines
from services.simulation.adapters.warm_engine import EngineResults
from services.simulation.db import partitions as partition_store
from services.simulation.db import projections
from services.simulation.db import simulations as store
from services.simulation.domain.deciles import deciles_in_dataset_order
from services.simulation.domain.partitions import PartitionJob
from services.simulation.domain.results import StoredResult, partition_root
from services.simulation.domain.simulations import is_finished, paths_of, progress_of
from services.simulation.handlers.failures import MissingInput
from services.simulation.handlers.partition_claims import PARTITIONS_QUEUE
from shared import storage
from shared.db import Database, UnitOfWork
from shared.metrics import SIMULATION_SECONDS, size_label
from shared.population import file_name, to_parquet_bytes

log = logging.getLogger(__name__)

TIMINGS = ("load_seconds", "calculation_seconds", "write_seconds")


@dataclass(frozen=True)
class Calculation:
    results: EngineResults
    model_version: str
    load_seconds: float
    calculation_seconds: float


class PartitionResults:
    def __init__(self, database: Database, storage_root: str, source: str) -> None:
        self._database = database
        self._storage_root = storage_root
        self._source = source

    def _write(self, job: PartitionJob, results: EngineResults) -> list[StoredResult]:
        root = partition_root(self._storage_root, job.simulation_id, job.year, job.partition)
        stored = []
        for name, frame in ((HOUSEHOLDS_FILE, results.households), (PEOPLE_FILE, results.people)):
            data = to_parquet_bytes(frame)
            uri = storage.join(root, name)
            storage.write_bytes(uri, data)
            stored.append(
                StoredResult.of(
                    name, uri, data, rows=len(frame), year=job.year, partition=job.partition
                )
            )
        return stored

    async def finish(self, event: CloudEvent, job: PartitionJob, calculation: Calculation) -> None:
        simulation_id = job.simulation_id
        async with self._database.unit_of_work() as uow:
            if not await uow.first_delivery(PARTITIONS_QUEUE, event):
                return
            simulation = await store.find_simulation(uow, simulation_id, for_update=True)
            if simulation is None or is_finished(simulation["status"]):
                log.info(
                    "result of %s of simulation %s discarded: it is %s",
                    job.context,
                    simulation_id,
                    simulation["status"] if simulation is not None else "gone",
                    extra={"simulation_id": simulation_id},
                )
                return
            partition = await partition_store.find_partition(
                uow, simulation_id, job.partition, for_update=True
            )
            if partition is None or partition["status"] == partition_store.DONE:
                return
            write_started = time.perf_counter()
            stored = await asyncio.to_thread(self._write, job, calculation.results)
            arm = calculation.results.reform_arm
            timings = {
                "load_seconds": round(calculation.load_seconds, 3),
                "calculation_seconds": round(calculation.calculation_seconds, 3),
                "write_seconds": round(time.perf_counter() - write_started, 3),
                "reform_path": arm.path,
                "reform_path_reason": arm.reason,
                "baseline_source": calculation.results.baseline_source,
            }
            now = datetime.now(UTC)
            await partition_store.mark_done(
                uow,
                simulation_id,
                job.partition,
                completed_at=now,
                results=[result.as_record() for result in stored],
                timings=timings,
            )
            counted = await partition_store.count_done(uow, simulation_id, job.households)
            progress = progress_of(counted, now)
            assert progress is not None  # a planned, running simulation
            await uow.publish(
                CloudEvent.wrap(
                    SimulationProgress(simulation_id=simulation_id, **progress.model_dump()),
                    source=self._source,
                    subject=simulation_id,
                )
            )
            last = counted["partitions_done"] >= counted["partitions_total"]
            if last:
                await self._complete(uow, counted, calculation.model_version, now)
            await uow.commit()
        log.info(
            "%s of simulation %s done",
            job.context,
            simulation_id,
            extra={"simulation_id": simulation_id, **timings},
        )
        if last:
            log.info(
                "simulation %s completed", simulation_id, extra={"simulation_id": simulation_id}
            )
            await self._forget_deleted_content(job.dataset_sha256)

    async def _forget_deleted_content(self, dataset_sha256: str) -> None:
        async with self._database.unit_of_work() as uow:
            in_use = await projections.dataset_content_in_use(uow, dataset_sha256)
        if not in_use:
            await asyncio.to_thread(remove_dataset_baselines, self._storage_root, dataset_sha256)

    async def _complete(
        self, uow: UnitOfWork, simulation: Mapping[Any, Any], model_version: str, now: datetime
    ) -> None:
        """The last partition is done: rank deciles over each year, complete the simulation."""
        simulation_id = simulation["id"]
        dataset = await projections.find_dataset(uow, simulation["dataset_id"])
        if dataset is None:
            raise MissingInput(f"dataset {simulation['dataset_id']} is not known")
        rows = await partition_store.partitions_of(uow, simulation_id)
        for year in sorted({row["year"] for row in rows}):
            of_year = [row for row in rows if row["year"] == year]
            if len(of_year) > 1:
                ranked = await asyncio.to_thread(
                    rank_deciles, dataset.storage_uri, [row["results"] for row in of_year]
                )
                for row, results in zip(of_year, ranked, strict=True):
                    await partition_store.replace_results(
                        uow, simulation_id, row["partition"], results
                    )
        rows = await partition_store.partitions_of(uow, simulation_id)
        files = [ResultFile.model_validate(record) for row in rows for record in row["results"]]
        timings: dict[str, Any] = {
            name: round(sum(row["timings"][name] for row in rows), 3) for name in TIMINGS
        }
        started_at = simulation["started_at"]
        timings["total_seconds"] = round((now - started_at).total_seconds(), 3)
        timings.update(paths_of([row["timings"] for row in rows]))
        households = sum(row["households"] for row in rows)
        SIMULATION_SECONDS.labels(size_label(households)).observe(timings["total_seconds"])
        years = list(simulation["years"] or [simulation["year"]])
        await store.mark_completed(
            uow,
            simulation_id,
            completed_at=now,
            results=[file.model_dump() for file in files],
            timings=timings,
            model_version=model_version,
            dataset_sha256=dataset.sha256,
        )
        await uow.publish(
            CloudEvent.wrap(
                SimulationCompleted(
                    simulation_id=simulation_id,
                    dataset_id=simulation["dataset_id"],
                    policy_id=simulation["policy_id"],
                    baseline_policy_id=simulation["baseline_policy_id"],
                    year=simulation["year"],
                    years=years,
                    region=simulation["region"],
                    partitions=len(rows),
                    results=files,
                    model_version=model_version,
                    dataset_sha256=dataset.sha256,
                    started_at=started_at,
                    completed_at=now,
                    seconds=timings["total_seconds"],
                ),
                source=self._source,
                subject=simulation_id,
            )
        )


def rank_deciles(
    dataset_uri: str, partitions: Sequence[Sequence[Mapping[Any, Any]]]
) -> list[list[dict[str, Any]]]:
    """Rewrite one year's household files with deciles ranked over all of them.

    Returns each partition's file records, the household file's checksum updated.
    Idempotent: the same partitions give the same bytes.
    """
    household = pd.read_parquet(
        io.BytesIO(storage.read_bytes(storage.join(dataset_uri, file_name("household")))),
        columns=["household_id"],
        engine="pyarrow",
    )
    uris = [_record(records, HOUSEHOLDS_FILE)["uri"] for records in partitions]
    frames = [pd.read_parquet(io.BytesIO(storage.read_bytes(uri))) for uri in uris]
    everyone = pd.concat(frames, ignore_index=True)
    deciles = deciles_in_dataset_order(everyone, household["household_id"].to_numpy())
    rewritten: list[list[dict[str, Any]]] = []
    start = 0
    for records, frame, uri in zip(partitions, frames, uris, strict=True):
        for column, ranked in deciles.items():
            frame[column] = ranked[start : start + len(frame)]
        start += len(frame)
        data = to_parquet_bytes(frame)
        storage.write_bytes(uri, data)
        household_file = _record(records, HOUSEHOLDS_FILE)
        updated = StoredResult.of(
            HOUSEHOLDS_FILE,
            uri,
            data,
            rows=len(frame),
            year=household_file.get("year"),
            partition=household_file.get("partition"),
        ).as_record()
        rewritten.append(
            [updated if record["name"] == HOUSEHOLDS_FILE else dict(record) for record in records]
        )
    return rewritten


def _record(records: Sequence[Mapping[Any, Any]], name: str) -> Mapping[Any, Any]:
    return next(record for record in records if record["name"] == name)
