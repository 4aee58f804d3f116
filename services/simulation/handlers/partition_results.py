"""Finishing a calculated partition: its files, its count, and the simulation's end.

No storage I/O happens while a row is locked. First the partition's files are
written (the same objects on every attempt: a redelivery overwrites), unless the
simulation finished or the partition is done already. Then, in one unit of work under
the simulation's and the partition's row locks, the delivery is recorded in the inbox
and what `Simulation.finish_partition` (domain/lifecycle.py) decided is stored: the
partition done, counted on the simulation, and `simulation.progress` in the outbox.
Whoever counts the last partition also completes the simulation in that unit of work
(`Simulation.complete`: `simulation.completed`); when a year is split over several
partitions, its deciles are first ranked again over the whole year, which rewrites
those partitions' household files: before the unit of work that completes, never in
it (a partition that finds itself last without a ranking, another one counted since
its files were written, stores nothing, ranks, and is counted again). If the dataset
was deleted meanwhile and no dataset left has its content, the baselines its
partitions kept of it are then removed. A cancel arriving while the files are written
leaves them unreferenced: the count discards the result.

A partition's files and the year's ranked files are the same objects, so writing the
one must never follow ranking the other: each write holds the simulation's
result-files lock (an advisory lock, `SimulationRepository.lock_result_files`), shared
to write a partition's files after checking it is not done, exclusive to rank and
complete. A late copy of a partition (its first worker cut off from the broker but
not dead) thus either writes before the ranking reads, or finds the partition done.
The dataset is the one the claim read (`PartitionJob`): its projection is not read
again here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from contracts.envelope import CloudEvent
from services.simulation.adapters.baselines import remove_dataset_baselines
from services.simulation.adapters.result_files import rank_years, write_partition_files
from services.simulation.adapters.warm_engine import EngineResults
from services.simulation.db import projections
from services.simulation.db.repository import SimulationRepository
from services.simulation.domain.partitions import (
    Partition,
    PartitionJob,
    RankedFiles,
    years_to_rank,
)
from services.simulation.domain.results import StoredResult
from services.simulation.domain.transitions import PartitionDone, SimulationFinished
from services.simulation.handlers.partition_claims import PARTITIONS_QUEUE
from shared.db import Database
from shared.metrics import SIMULATION_SECONDS, size_label

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Calculation:
    results: EngineResults
    model_version: str
    load_seconds: float
    calculation_seconds: float


@dataclass(frozen=True)
class Written:
    """A partition's files, written; `ranks_first` when every other partition looked
    done and a year is split over several partitions: its count then waits for the
    ranking."""

    files: list[StoredResult]
    seconds: float
    ranks_first: bool


@dataclass(frozen=True)
class Counted:
    """The partition counted, and whether that completed the simulation."""

    completed: bool


class Unranked(Exception):
    """The last partition is counted only with its years' deciles ranked (rolled back)."""


class PartitionResults:
    def __init__(self, database: Database, storage_root: str, source: str) -> None:
        self._database = database
        self._storage_root = storage_root
        self._source = source

    async def finish(self, event: CloudEvent, job: PartitionJob, calculation: Calculation) -> None:
        written = await self._write(job, calculation)
        if written is None:
            return
        arm = calculation.results.reform_arm
        timings = {
            "load_seconds": round(calculation.load_seconds, 3),
            "calculation_seconds": round(calculation.calculation_seconds, 3),
            "write_seconds": round(written.seconds, 3),
            "reform_path": arm.path,
            "reform_path_reason": arm.reason,
            "baseline_source": calculation.results.baseline_source,
        }
        if written.ranks_first:
            counted = await self._rank_and_count(event, job, calculation, written, timings)
        else:
            try:
                counted = await self._count(event, job, calculation, written, timings, None)
            except Unranked:
                counted = await self._rank_and_count(event, job, calculation, written, timings)
        if counted is None:
            return
        log.info(
            "%s of simulation %s done",
            job.context,
            job.simulation_id,
            extra={"simulation_id": job.simulation_id, **timings},
        )
        if counted.completed:
            log.info(
                "simulation %s completed",
                job.simulation_id,
                extra={"simulation_id": job.simulation_id},
            )
            await self._forget_deleted_content(job.dataset_sha256)

    async def _write(self, job: PartitionJob, calculation: Calculation) -> Written | None:
        """Write the partition's files, unless its result is no longer wanted."""
        async with self._database.unit_of_work() as uow:
            repository = SimulationRepository(uow)
            await repository.lock_result_files(job.simulation_id, exclusive=False)
            simulation = await repository.get(job.simulation_id)
            if simulation is None or simulation.is_finished:
                self._discarded(job, simulation.status if simulation is not None else "gone")
                return None
            partitions = await repository.partitions(job.simulation_id)
            if not any(p.index == job.partition and not p.is_done for p in partitions):
                return None
            started = time.perf_counter()
            results = calculation.results
            files = await asyncio.to_thread(
                write_partition_files,
                self._storage_root,
                job,
                results.households,
                results.people,
            )
            seconds = time.perf_counter() - started
        others_done = all(p.is_done for p in partitions if p.index != job.partition)
        return Written(files, seconds, ranks_first=others_done and bool(years_to_rank(partitions)))

    async def _rank_and_count(
        self,
        event: CloudEvent,
        job: PartitionJob,
        calculation: Calculation,
        written: Written,
        timings: dict[str, Any],
    ) -> Counted | None:
        """Rank the deciles of the years split in several partitions, holding the
        result-files lock until the simulation is completed with the ranked files."""
        async with self._database.unit_of_work() as guard:
            repository = SimulationRepository(guard)
            await repository.lock_result_files(job.simulation_id, exclusive=True)
            simulation = await repository.get(job.simulation_id)
            if simulation is None or simulation.is_finished:
                self._discarded(job, simulation.status if simulation is not None else "gone")
                return None
            partitions = [
                _with_files(p, written.files) if p.index == job.partition and not p.is_done else p
                for p in await repository.partitions(job.simulation_id)
            ]
            ranking = None
            if years_to_rank(partitions):
                ranking = await asyncio.to_thread(rank_years, job.storage_uri, partitions)
            return await self._count(event, job, calculation, written, timings, ranking)

    async def _count(
        self,
        event: CloudEvent,
        job: PartitionJob,
        calculation: Calculation,
        written: Written,
        timings: dict[str, Any],
        ranking: RankedFiles | None,
    ) -> Counted | None:
        """Under the row locks: the partition done and counted, and the simulation
        completed if it was the last; raises `Unranked` (nothing stored) when it was the
        last but `ranking` is not the ranking of these partitions' files."""
        simulation_id = job.simulation_id
        async with self._database.unit_of_work() as uow:
            if not await uow.first_delivery(PARTITIONS_QUEUE, event):
                return None
            repository = SimulationRepository(uow)
            simulation = await repository.get(simulation_id, for_update=True)
            if simulation is None:
                self._discarded(job, "gone")
                return None
            partition = await repository.partition(simulation_id, job.partition, for_update=True)
            if partition is None:
                return None
            now = datetime.now(UTC)
            try:
                finish = simulation.finish_partition(partition, written.files, timings, now)
            except SimulationFinished as refused:
                self._discarded(job, refused.status)
                return None
            except PartitionDone:
                return None
            await repository.save_partition(partition, finish.partition)
            await repository.record(simulation, finish, source=self._source)
            if not finish.last:
                await uow.commit()
                return Counted(completed=False)
            partitions = await repository.partitions(simulation_id)
            ranked = _ranked(partitions, ranking)
            for before, after in zip(partitions, ranked, strict=True):
                await repository.save_partition(before, after)
            completion = finish.state.complete(
                ranked,
                model_version=calculation.model_version,
                dataset_sha256=job.dataset_sha256,
                now=now,
            )
            await repository.record(finish.state, completion, source=self._source)
            await uow.commit()
        seconds = completion.state.seconds
        assert seconds is not None  # completed
        households = sum(p.households for p in ranked)
        SIMULATION_SECONDS.labels(size_label(households)).observe(seconds)
        return Counted(completed=True)

    def _discarded(self, job: PartitionJob, status: str) -> None:
        log.info(
            "result of %s of simulation %s discarded: it is %s",
            job.context,
            job.simulation_id,
            status,
            extra={"simulation_id": job.simulation_id},
        )

    async def _forget_deleted_content(self, dataset_sha256: str) -> None:
        async with self._database.unit_of_work() as uow:
            in_use = await projections.dataset_content_in_use(uow, dataset_sha256)
        if not in_use:
            await asyncio.to_thread(remove_dataset_baselines, self._storage_root, dataset_sha256)


def _ranked(partitions: list[Partition], ranking: RankedFiles | None) -> list[Partition]:
    """The partitions with their final files: as `ranking` rewrote them when a year is
    split over several; raises `Unranked` when it is no ranking of these files."""
    if not years_to_rank(partitions):
        return partitions
    ranked = ranking.applied_to(partitions) if ranking is not None else None
    if ranked is None:
        raise Unranked(partitions[0].simulation_id)
    return ranked


def _with_files(partition: Partition, files: list[StoredResult]) -> Partition:
    """The partition being finished, with the files just written (not stored yet)."""
    return replace(partition, results=tuple(files))
