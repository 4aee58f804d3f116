"""The workers' consumer of `simulation.partition.requested`: compute one partition.

Per message: (1) under the simulation's and the partition's row locks, skip a
finished (cancelled, failed) simulation or a done partition, count the attempt, and
after `attempts` of them fail the simulation and reject the message to the
dead-letter queue; (2) load the partition's households and run baseline and reform
on the warm engine, off the event loop; (3) in one unit of work, again under the
simulation's row lock: record the delivery in the inbox, write the partition's
files (the same objects on every attempt: a redelivery overwrites), mark the
partition done, count it on the simulation and put `simulation.progress` in the
outbox. Whoever counts the last partition also ranks each year's deciles over the
whole population, marks the simulation completed and emits `simulation.completed`.

Every write of a simulation's result objects and every change of its counters
happens under its row lock, so two workers finishing at once are serialised: exactly
one of them counts the last partition, and a cancel either comes first (the late
result is discarded) or finds the simulation completed.

A worker that dies leaves its message unacknowledged: RabbitMQ delivers it again,
to any worker, and the attempt is counted. A second copy of the request (published
twice by the outbox) arriving while the partition is running is dropped without
counting an attempt (domain.simulations.is_second_copy). An error of the calculation
itself (the engine, an unreadable dataset) is deterministic: the simulation fails at
once, the partition named in the reason, without retries that would fail alike.
Other errors (database, storage) propagate and the broker redelivers the message.
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
from faststream.exceptions import RejectMessage

from contracts.envelope import CloudEvent
from contracts.events.simulation.v1 import (
    ResultFile,
    SimulationCompleted,
    SimulationPartitionRequested,
    SimulationProgress,
)
from contracts.results.v1 import HOUSEHOLDS_FILE, PEOPLE_FILE
from services.simulation.db import partitions as partition_store
from services.simulation.db import projections
from services.simulation.db import simulations as store
from services.simulation.domain.deciles import DECILE, deciles_in_dataset_order
from services.simulation.domain.partitions import population_of_states
from services.simulation.domain.results import StoredResult, check_columns, partition_root
from services.simulation.domain.simulations import (
    attempts_exhausted,
    is_finished,
    is_second_copy,
    progress_of,
)
from services.simulation.handlers.failures import AttemptsExhausted, MissingInput, record_failure
from services.simulation.handlers.warm_engine import (
    EngineResults,
    Reform,
    SimulationEngine,
    WarmEngine,
)
from shared import storage
from shared.broker import redelivered
from shared.db import Database, UnitOfWork
from shared.metrics import SIMULATION_SECONDS, size_label
from shared.outages import is_outage, ride_out
from shared.population import file_name, read_population, to_parquet_bytes
from shared.states import FIPS_BY_POSTAL_CODE

log = logging.getLogger(__name__)

PARTITIONS_QUEUE = "simulation.partitions"
TIMINGS = ("load_seconds", "calculation_seconds", "write_seconds")


@dataclass(frozen=True)
class PartitionJob:
    """A started partition with everything its calculation needs."""

    simulation_id: str
    partition: int
    year: int
    states: tuple[str, ...]
    households: int
    whole_dataset: bool
    storage_uri: str
    reform: Reform
    baseline: Reform | None
    outputs: tuple[str, ...] = ()

    @property
    def context(self) -> str:
        return f"partition {self.partition} ({self.year}: {', '.join(self.states)})"


@dataclass(frozen=True)
class Calculation:
    results: EngineResults
    model_version: str
    load_seconds: float
    calculation_seconds: float


def _failure_context(row: Mapping[Any, Any]) -> str:
    return f"partition {row['partition']} ({row['year']}: {', '.join(row['states'])})"


class PartitionRunner:
    """Computes partitions, one at a time, on this worker's warm engine."""

    def __init__(
        self,
        database: Database,
        storage_root: str,
        source: str,
        engine: WarmEngine[SimulationEngine],
        attempts: int,
        outage_patience_seconds: float = 300.0,
    ) -> None:
        self._database = database
        self._storage_root = storage_root
        self._source = source
        self._engine = engine
        self._attempts = attempts
        self._patience = outage_patience_seconds
        # The engine is neither thread-safe nor small: one calculation at a time.
        self._calculating = asyncio.Lock()
        # Partitions this worker started and has not finished: an outage retries them in place.
        self._started_here: set[tuple[str, int]] = set()

    async def on_partition_requested(self, event: CloudEvent) -> None:
        request = event.payload(SimulationPartitionRequested)
        engine = await self._engine.get()
        async with self._calculating:
            job = await self._start(event, request)
            if job is None:
                return
            started = (job.simulation_id, job.partition)
            self._started_here.add(started)
            try:
                await self._compute(event, job, engine)
            except Exception as exc:
                if not is_outage(exc):  # an outage is retried in place, as started here
                    self._started_here.discard(started)
                raise
            self._started_here.discard(started)

    async def _compute(
        self, event: CloudEvent, job: PartitionJob, engine: SimulationEngine
    ) -> None:
        try:
            calculation = await self._calculate(job, engine)
        except Exception as exc:
            if is_outage(exc):
                raise  # the storage is unreachable: try again, the partition is not at fault
            log.warning(
                "%s of simulation %s failed",
                job.context,
                job.simulation_id,
                exc_info=True,
                extra={"simulation_id": job.simulation_id},
            )
            await self._fail(event, job, exc)
            return
        # Calculated: an outage now waits here, rather than calculate again.
        await ride_out(
            lambda: self._finish(event, job, calculation),
            what=f"{job.context} of simulation {job.simulation_id}",
            patience_seconds=self._patience,
        )

    async def _fail(self, event: CloudEvent, job: PartitionJob, error: BaseException) -> None:
        async with self._database.unit_of_work() as uow:
            row = await store.find_simulation(uow, job.simulation_id, for_update=True)
            if row is None or is_finished(row["status"]):
                return
            await record_failure(
                uow,
                event,
                PARTITIONS_QUEUE,
                self._source,
                job.simulation_id,
                error,
                context=job.context,
            )
            await uow.commit()

    async def _start(
        self, event: CloudEvent, request: SimulationPartitionRequested
    ) -> PartitionJob | None:
        simulation_id, index = request.simulation_id, request.partition
        async with self._database.unit_of_work() as uow:
            simulation = await store.find_simulation(uow, simulation_id, for_update=True)
            partition = await partition_store.find_partition(
                uow, simulation_id, index, for_update=True
            )
            if simulation is None or partition is None:
                log.warning("partition %s of unknown simulation %s ignored", index, simulation_id)
                return None
            if is_finished(simulation["status"]):
                log.info(
                    "partition %s skipped: simulation %s is %s",
                    index,
                    simulation_id,
                    simulation["status"],
                    extra={"simulation_id": simulation_id},
                )
                return None
            if partition["status"] == partition_store.DONE:
                return None
            if is_second_copy(
                running=partition["status"] == partition_store.RUNNING,
                redelivered=redelivered(),
                started_here=(simulation_id, index) in self._started_here,
            ):
                log.info(
                    "partition %s of simulation %s is being computed (attempt %s): "
                    "a second copy of its request dropped",
                    index,
                    simulation_id,
                    partition["attempts"],
                    extra={"simulation_id": simulation_id},
                )
                return None
            attempts = partition["attempts"] + 1
            try:
                if attempts_exhausted(attempts, self._attempts):
                    raise AttemptsExhausted(
                        f"started {attempts - 1} times without finishing; "
                        "a worker computing it may have run out of memory"
                    )
                job = await self._job(uow, simulation, partition)
            except AttemptsExhausted as exc:
                await partition_store.set_attempts(uow, simulation_id, index, attempts)
                await record_failure(
                    uow,
                    event,
                    PARTITIONS_QUEUE,
                    self._source,
                    simulation_id,
                    exc,
                    context=_failure_context(partition),
                )
                await uow.commit()
                # The message goes to simulation.partitions.dlq, for a person to look at.
                raise RejectMessage() from exc
            except MissingInput as exc:
                await record_failure(
                    uow,
                    event,
                    PARTITIONS_QUEUE,
                    self._source,
                    simulation_id,
                    exc,
                    context=_failure_context(partition),
                )
                await uow.commit()
                return None
            await partition_store.mark_started(
                uow, simulation_id, index, attempts=attempts, started_at=datetime.now(UTC)
            )
            await uow.commit()
        log.info(
            "%s of simulation %s started",
            job.context,
            simulation_id,
            extra={"simulation_id": simulation_id, "attempt": attempts},
        )
        return job

    async def _job(
        self, uow: UnitOfWork, simulation: Mapping[Any, Any], partition: Mapping[Any, Any]
    ) -> PartitionJob:
        dataset = await projections.find_dataset(uow, simulation["dataset_id"])
        if dataset is None:
            raise MissingInput(f"dataset {simulation['dataset_id']} is not known")
        policy = await projections.find_policy(uow, simulation["policy_id"])
        if policy is None:
            raise MissingInput(f"policy {simulation['policy_id']} is not known")
        baseline = None
        if simulation["baseline_policy_id"] is not None:
            baseline = await projections.find_policy(uow, simulation["baseline_policy_id"])
            if baseline is None:
                raise MissingInput(f"policy {simulation['baseline_policy_id']} is not known")
        return PartitionJob(
            simulation_id=simulation["id"],
            partition=partition["partition"],
            year=partition["year"],
            states=tuple(partition["states"]),
            households=partition["households"],
            whole_dataset=simulation["region"] == "us"
            and simulation["partitions_total"] == len(simulation["years"] or [simulation["year"]]),
            storage_uri=dataset.storage_uri,
            reform=policy.data,
            baseline=baseline.data if baseline is not None else None,
            outputs=tuple(simulation.get("outputs") or ()),
        )

    async def _calculate(self, job: PartitionJob, engine: SimulationEngine) -> Calculation:
        started = time.perf_counter()
        population = await asyncio.to_thread(read_population, job.storage_uri)
        if not job.whole_dataset:
            states = {FIPS_BY_POSTAL_CODE[state] for state in job.states}
            population = population_of_states(population, states)
        loaded = time.perf_counter()
        results = await asyncio.to_thread(
            engine.run, population, job.year, job.reform, job.baseline, job.outputs
        )
        del population
        check_columns(HOUSEHOLDS_FILE, results.households)
        check_columns(PEOPLE_FILE, results.people)
        return Calculation(
            results=results,
            model_version=engine.model_version,
            load_seconds=loaded - started,
            calculation_seconds=time.perf_counter() - loaded,
        )

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

    async def _finish(self, event: CloudEvent, job: PartitionJob, calculation: Calculation) -> None:
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
            timings = {
                "load_seconds": round(calculation.load_seconds, 3),
                "calculation_seconds": round(calculation.calculation_seconds, 3),
                "write_seconds": round(time.perf_counter() - write_started, 3),
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
        timings = {name: round(sum(row["timings"][name] for row in rows), 3) for name in TIMINGS}
        started_at = simulation["started_at"]
        timings["total_seconds"] = round((now - started_at).total_seconds(), 3)
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
        frame[DECILE] = deciles[start : start + len(frame)]
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
