"""The worker's consumer of `simulation.requested`: run the simulation, store its results.

Per message: (1) mark the simulation running, commit; (2) load the population and
run the engine off the event loop, then write the result files (idempotent: the
same objects on every attempt); (3) in one unit of work, record the delivery in
the inbox, mark the simulation completed and put `simulation.completed` in the
outbox. A worker that dies before (3) leaves its message unacknowledged, so
RabbitMQ delivers it again and the simulation completes then.

A cancelled simulation is not started, and the result of one cancelled while it
ran is discarded: step (3) checks the status under the row lock.

An error of the calculation itself (the engine, a missing or unreadable dataset)
is deterministic: the simulation fails, with `simulation.failed`, and is not
retried. Other errors (database, storage writes) propagate, and the broker
redelivers the message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from contracts.envelope import CloudEvent
from contracts.events.simulation.v1 import (
    SimulationCompleted,
    SimulationFailed,
    SimulationRequested,
)
from contracts.results.v1 import HOUSEHOLDS_FILE, PEOPLE_FILE
from services.simulation.db import projections
from services.simulation.db import simulations as store
from services.simulation.domain.results import StoredResult, check_columns, results_root
from services.simulation.domain.simulations import (
    attempts_exhausted,
    failure_of,
    is_finished,
    may_start,
)
from services.simulation.handlers.warm_engine import (
    EngineResults,
    Reform,
    SimulationEngine,
    WarmEngine,
)
from shared import storage
from shared.db import Database, UnitOfWork
from shared.population import read_population, to_parquet_bytes

log = logging.getLogger(__name__)

REQUESTS_QUEUE = "simulation.requests"


class MissingInput(LookupError):
    """A dataset or policy the simulation refers to is no longer known here."""


class AttemptsExhausted(RuntimeError):
    """The simulation was started as often as allowed without ever finishing."""


@dataclass(frozen=True)
class Job:
    """A started simulation with everything its calculation needs."""

    simulation_id: str
    dataset_id: str
    policy_id: str
    baseline_policy_id: str | None
    year: int
    storage_uri: str
    dataset_sha256: str
    reform: Reform
    baseline: Reform | None
    started_at: datetime


@dataclass(frozen=True)
class Calculation:
    results: EngineResults
    model_version: str
    load_seconds: float
    calculation_seconds: float


class SimulationRunner:
    """Runs requested simulations, one at a time, on this worker's warm engine."""

    def __init__(
        self, database: Database, storage_root: str, source: str, engine: WarmEngine, attempts: int
    ) -> None:
        self._database = database
        self._storage_root = storage_root
        self._source = source
        self._engine = engine
        self._attempts = attempts
        # The engine is neither thread-safe nor small: one calculation at a time.
        self._calculating = asyncio.Lock()

    async def on_simulation_requested(self, event: CloudEvent) -> None:
        request = event.payload(SimulationRequested)
        engine = await self._engine.get()
        async with self._calculating:
            job = await self._start(event, request)
            if job is None:
                return
            try:
                calculation = await self._calculate(job, engine)
            except Exception as exc:
                log.warning(
                    "simulation %s failed",
                    job.simulation_id,
                    exc_info=True,
                    extra={"simulation_id": job.simulation_id},
                )
                await self._fail(event, job.simulation_id, exc)
                return
            write_started = time.perf_counter()
            stored = await asyncio.to_thread(self._write_results, job, calculation.results)
            write_seconds = time.perf_counter() - write_started
        await self._complete(event, job, calculation, stored, write_seconds)

    async def _start(self, event: CloudEvent, request: SimulationRequested) -> Job | None:
        """Mark the simulation running, unless it finished already or used up its attempts."""
        simulation_id = request.simulation_id
        async with self._database.unit_of_work() as uow:
            row = await store.find_simulation(uow, simulation_id, for_update=True)
            if row is None:
                log.warning("request for unknown simulation %s ignored", simulation_id)
                return None
            if not may_start(row["status"]):
                log.info("simulation %s already %s", simulation_id, row["status"])
                return None
            attempts = row["attempts"] + 1
            try:
                if attempts_exhausted(attempts, self._attempts):
                    raise AttemptsExhausted(
                        f"started {attempts - 1} times without finishing; "
                        "a worker running it may have run out of memory"
                    )
                job = await self._job(uow, row["id"], request, attempts)
            except (AttemptsExhausted, MissingInput) as exc:
                await self._record_failure(uow, event, simulation_id, exc, attempts=attempts)
                await uow.commit()
                return None
            await store.mark_running(
                uow, simulation_id, started_at=job.started_at, attempts=attempts
            )
            await uow.commit()
        log.info(
            "simulation %s started",
            simulation_id,
            extra={"simulation_id": simulation_id, "attempt": attempts},
        )
        return job

    async def _job(
        self, uow: UnitOfWork, simulation_id: str, request: SimulationRequested, attempts: int
    ) -> Job:
        dataset = await projections.find_dataset(uow, request.dataset_id)
        if dataset is None:
            raise MissingInput(f"dataset {request.dataset_id} is not known")
        policy = await projections.find_policy(uow, request.policy_id)
        if policy is None:
            raise MissingInput(f"policy {request.policy_id} is not known")
        baseline = None
        if request.baseline_policy_id is not None:
            baseline = await projections.find_policy(uow, request.baseline_policy_id)
            if baseline is None:
                raise MissingInput(f"policy {request.baseline_policy_id} is not known")
        return Job(
            simulation_id=simulation_id,
            dataset_id=request.dataset_id,
            policy_id=request.policy_id,
            baseline_policy_id=request.baseline_policy_id,
            year=request.year,
            storage_uri=dataset.storage_uri,
            dataset_sha256=dataset.sha256,
            reform=policy.data,
            baseline=baseline.data if baseline is not None else None,
            started_at=datetime.now(UTC),
        )

    async def _calculate(self, job: Job, engine: SimulationEngine) -> Calculation:
        started = time.perf_counter()
        population = await asyncio.to_thread(read_population, job.storage_uri)
        loaded = time.perf_counter()
        results = await asyncio.to_thread(
            engine.run, population, job.year, job.reform, job.baseline
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

    def _write_results(self, job: Job, results: EngineResults) -> list[StoredResult]:
        root = results_root(self._storage_root, job.simulation_id)
        stored = []
        for name, frame in ((HOUSEHOLDS_FILE, results.households), (PEOPLE_FILE, results.people)):
            data = to_parquet_bytes(frame)
            uri = storage.join(root, name)
            storage.write_bytes(uri, data)
            stored.append(StoredResult.of(name, uri, data, rows=len(frame)))
        return stored

    async def _complete(
        self,
        event: CloudEvent,
        job: Job,
        calculation: Calculation,
        stored: list[StoredResult],
        write_seconds: float,
    ) -> None:
        completed_at = datetime.now(UTC)
        total = (completed_at - job.started_at).total_seconds()
        timings = {
            "load_seconds": round(calculation.load_seconds, 3),
            "calculation_seconds": round(calculation.calculation_seconds, 3),
            "write_seconds": round(write_seconds, 3),
            "total_seconds": round(total, 3),
        }
        async with self._database.unit_of_work() as uow:
            if not await uow.first_delivery(REQUESTS_QUEUE, event):
                return
            # Under the row lock: a cancel committed during the calculation wins, and
            # one arriving after this commit finds the simulation completed (409).
            row = await store.find_simulation(uow, job.simulation_id, for_update=True)
            if row is None or is_finished(row["status"]):
                log.info(
                    "result of simulation %s discarded: it is %s",
                    job.simulation_id,
                    row["status"] if row is not None else "gone",
                    extra={"simulation_id": job.simulation_id},
                )
                return
            await store.mark_completed(
                uow,
                job.simulation_id,
                completed_at=completed_at,
                results=[result.as_record() for result in stored],
                timings=timings,
                model_version=calculation.model_version,
                dataset_sha256=job.dataset_sha256,
            )
            await uow.publish(
                CloudEvent.wrap(
                    SimulationCompleted(
                        simulation_id=job.simulation_id,
                        dataset_id=job.dataset_id,
                        policy_id=job.policy_id,
                        baseline_policy_id=job.baseline_policy_id,
                        year=job.year,
                        results=[result.as_event_file() for result in stored],
                        model_version=calculation.model_version,
                        dataset_sha256=job.dataset_sha256,
                        started_at=job.started_at,
                        completed_at=completed_at,
                        seconds=total,
                    ),
                    source=self._source,
                    subject=job.simulation_id,
                )
            )
            await uow.commit()
        log.info(
            "simulation %s completed",
            job.simulation_id,
            extra={"simulation_id": job.simulation_id, **timings},
        )

    async def _fail(self, event: CloudEvent, simulation_id: str, error: BaseException) -> None:
        async with self._database.unit_of_work() as uow:
            row = await store.find_simulation(uow, simulation_id, for_update=True)
            if row is None or is_finished(row["status"]):
                return
            await self._record_failure(uow, event, simulation_id, error)
            await uow.commit()

    async def _record_failure(
        self,
        uow: UnitOfWork,
        event: CloudEvent,
        simulation_id: str,
        error: BaseException,
        attempts: int | None = None,
    ) -> None:
        if not await uow.first_delivery(REQUESTS_QUEUE, event):
            return
        error_type, reason = failure_of(error)
        await store.mark_failed(
            uow,
            simulation_id,
            completed_at=datetime.now(UTC),
            error_type=error_type,
            reason=reason,
            attempts=attempts,
        )
        await uow.publish(
            CloudEvent.wrap(
                SimulationFailed(simulation_id=simulation_id, reason=reason, error_type=error_type),
                source=self._source,
                subject=simulation_id,
            )
        )
        log.info("simulation %s failed: %s", simulation_id, reason)
