"""Claiming a requested partition: the first of its three steps (claim, compute, finish).

Under the simulation's and the partition's row locks, `Simulation.start_partition`
(domain/lifecycle.py) decides: a finished (cancelled, failed) simulation or a done
partition is skipped, a second copy of a request whose partition is running is dropped,
and the attempt is counted; after `attempts` of them the simulation fails and the
message is rejected to the dead-letter queue. The dataset's and policies' projections
are read once, here: a claimed partition comes back as a `PartitionJob` holding
everything its calculation and its finish need.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from faststream.exceptions import RejectMessage

from contracts.envelope import CloudEvent
from contracts.events.simulation.v1 import SimulationPartitionRequested
from services.simulation.db import projections
from services.simulation.db.repository import SimulationRepository
from services.simulation.domain.lifecycle import Simulation
from services.simulation.domain.partitions import Partition, PartitionJob
from services.simulation.domain.transitions import (
    MissingInput,
    PartitionDone,
    SecondCopy,
    SimulationFinished,
)
from services.simulation.handlers.failures import record_failure
from shared.broker import redelivered
from shared.db import Database, UnitOfWork

log = logging.getLogger(__name__)

PARTITIONS_QUEUE = "simulation.partitions"


class PartitionClaims:
    def __init__(
        self, database: Database, source: str, attempts: int, started_here: set[tuple[str, int]]
    ) -> None:
        self._database = database
        self._source = source
        self._attempts = attempts
        # Partitions this worker started and has not finished (shared with the runner).
        self._started_here = started_here

    async def start(
        self, event: CloudEvent, request: SimulationPartitionRequested
    ) -> PartitionJob | None:
        simulation_id, index = request.simulation_id, request.partition
        async with self._database.unit_of_work() as uow:
            repository = SimulationRepository(uow)
            simulation = await repository.get(simulation_id, for_update=True)
            partition = await repository.partition(simulation_id, index, for_update=True)
            if simulation is None or partition is None:
                log.warning("partition %s of unknown simulation %s ignored", index, simulation_id)
                return None
            now = datetime.now(UTC)
            try:
                start = simulation.start_partition(
                    partition,
                    limit=self._attempts,
                    now=now,
                    redelivered=redelivered(),
                    started_here=(simulation_id, index) in self._started_here,
                )
            except SimulationFinished as skipped:
                log.info(
                    "partition %s skipped: simulation %s is %s",
                    index,
                    simulation_id,
                    skipped.status,
                    extra={"simulation_id": simulation_id},
                )
                return None
            except PartitionDone:
                return None
            except SecondCopy:
                log.info(
                    "partition %s of simulation %s is being computed (attempt %s): "
                    "a second copy of its request dropped",
                    index,
                    simulation_id,
                    partition.attempts,
                    extra={"simulation_id": simulation_id},
                )
                return None
            if start.exhausted:
                await repository.save_partition(partition, start.partition)
                await record_failure(uow, event, PARTITIONS_QUEUE, self._source, simulation, start)
                await uow.commit()
                # The message goes to simulation.partitions.dlq, for a person to look at.
                raise RejectMessage()
            try:
                job = await self._job(uow, simulation, start.partition)
            except MissingInput as exc:
                failed = simulation.fail(exc, now, context=partition.context)
                await record_failure(uow, event, PARTITIONS_QUEUE, self._source, simulation, failed)
                await uow.commit()
                return None
            await repository.save_partition(partition, start.partition)
            await uow.commit()
        log.info(
            "%s of simulation %s started",
            job.context,
            simulation_id,
            extra={"simulation_id": simulation_id, "attempt": start.partition.attempts},
        )
        return job

    async def _job(
        self, uow: UnitOfWork, simulation: Simulation, partition: Partition
    ) -> PartitionJob:
        """The partition's calculation, with the dataset and policies it reads."""
        dataset = await projections.find_dataset(uow, simulation.dataset_id)
        if dataset is None:
            raise MissingInput(f"dataset {simulation.dataset_id} is not known")
        policy = await projections.find_policy(uow, simulation.policy_id)
        if policy is None:
            raise MissingInput(f"policy {simulation.policy_id} is not known")
        baseline = None
        if simulation.baseline_policy_id is not None:
            baseline = await projections.find_policy(uow, simulation.baseline_policy_id)
            if baseline is None:
                raise MissingInput(f"policy {simulation.baseline_policy_id} is not known")
        return PartitionJob(
            simulation_id=simulation.id,
            partition=partition.index,
            year=partition.year,
            states=partition.states,
            households=partition.households,
            whole_dataset=simulation.partitions_span_the_dataset,
            storage_uri=dataset.storage_uri,
            dataset_sha256=dataset.sha256,
            reform=policy.data,
            baseline=baseline.data if baseline is not None else None,
            outputs=simulation.outputs,
        )
