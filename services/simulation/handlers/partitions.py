"""The workers' consumer of `simulation.partition.requested`: compute one partition.

Per message, three steps, each in its own module: (1) claim it (`partition_claims`):
under the simulation's and the partition's row locks, skip what is finished or done,
count the attempt, and after `attempts` of them fail the simulation and reject the
message to the dead-letter queue; (2) compute it, here, with no transaction open: load
the partition's households and run baseline and reform on the warm engine, off the
event loop, the baseline's values reused when this population, year, baseline policy
and model were run before (`domain.baselines`); (3) finish it (`partition_results`):
write its files with no row locked, then, under the simulation's row lock, mark it
done, count it, and complete the simulation when it is the last.

Every change of a simulation's counters happens under its row lock, so two workers
finishing at once are serialised: exactly one of them counts the last partition, and a
cancel either comes first (the late result is discarded) or finds the simulation
completed.

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
import logging
import time

from contracts.envelope import CloudEvent
from contracts.events.simulation.v1 import SimulationPartitionRequested
from contracts.results.v1 import HOUSEHOLDS_FILE, PEOPLE_FILE
from services.simulation.adapters.warm_engine import SimulationEngine, WarmEngine
from services.simulation.domain.baselines import baseline_key
from services.simulation.domain.partitions import PartitionJob, population_of_states
from services.simulation.domain.results import check_columns
from services.simulation.domain.systems import reform_hash
from services.simulation.handlers.failures import fail_unless_finished
from services.simulation.handlers.partition_claims import PARTITIONS_QUEUE, PartitionClaims
from services.simulation.handlers.partition_results import Calculation, PartitionResults
from shared.db import Database
from shared.metrics import BASELINE_RUNS, REFORM_ARMS
from shared.outages import is_outage, ride_out
from shared.population import read_population
from shared.states import FIPS_BY_POSTAL_CODE

log = logging.getLogger(__name__)

__all__ = ["PARTITIONS_QUEUE", "PartitionRunner"]


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
        self._source = source
        self._engine = engine
        self._patience = outage_patience_seconds
        # The engine is neither thread-safe nor small: one calculation at a time.
        self._calculating = asyncio.Lock()
        # Partitions this worker started and has not finished: an outage retries them in place.
        self._started_here: set[tuple[str, int]] = set()
        self._claims = PartitionClaims(database, source, attempts, self._started_here)
        self._results = PartitionResults(database, storage_root, source)

    async def on_partition_requested(self, event: CloudEvent) -> None:
        request = event.payload(SimulationPartitionRequested)
        engine = await self._engine.get()
        async with self._calculating:
            job = await self._claims.start(event, request)
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
            await fail_unless_finished(
                self._database,
                event,
                PARTITIONS_QUEUE,
                self._source,
                job.simulation_id,
                exc,
                context=job.context,
            )
            return
        # Calculated: an outage now waits here, rather than calculate again.
        await ride_out(
            lambda: self._results.finish(event, job, calculation),
            what=f"{job.context} of simulation {job.simulation_id}",
            patience_seconds=self._patience,
        )

    async def _calculate(self, job: PartitionJob, engine: SimulationEngine) -> Calculation:
        started = time.perf_counter()
        population = await asyncio.to_thread(read_population, job.storage_uri)
        if not job.whole_dataset:
            states = {FIPS_BY_POSTAL_CODE[state] for state in job.states}
            population = population_of_states(population, states)
        loaded = time.perf_counter()
        key = baseline_key(
            job.dataset_sha256,
            job.year,
            job.population_part,
            reform_hash(job.baseline or None),
            engine.model_version,
        )
        results = await asyncio.to_thread(
            engine.run,
            population,
            job.year,
            job.reform,
            job.baseline,
            job.outputs,
            baseline_key=key,
        )
        del population
        arm = results.reform_arm
        REFORM_ARMS.labels(arm.path, arm.reason or "").inc()
        BASELINE_RUNS.labels(results.baseline_source).inc()
        check_columns(HOUSEHOLDS_FILE, results.households)
        check_columns(PEOPLE_FILE, results.people)
        return Calculation(
            results=results,
            model_version=engine.model_version,
            load_seconds=loaded - started,
            calculation_seconds=time.perf_counter() - loaded,
        )
