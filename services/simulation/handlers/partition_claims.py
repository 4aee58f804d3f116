"""Claiming a requested partition: the first step of computing it.

Under the simulation's and the partition's row locks: skip a finished (cancelled,
failed) simulation or a done partition, drop a second copy of a request whose
partition is running, count the attempt, and after `attempts` of them fail the
simulation and reject the message to the dead-letter queue. A claimed partition
comes back as a `PartitionJob` holding everything its calculation needs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from faststream.exceptions import RejectMessage

from contracts.envelope import CloudEvent
from contracts.events.simulation.v1 import SimulationPartitionRequested
from services.simulation.db import partitions as partition_store
from services.simulation.db import projections
from services.simulation.db import simulations as store
from services.simulation.domain.partitions import PartitionJob
from services.simulation.domain.simulations import (
    attempts_exhausted,
    is_finished,
    is_second_copy,
)
from services.simulation.handlers.failures import AttemptsExhausted, MissingInput, record_failure
from shared.broker import redelivered
from shared.db import Database, UnitOfWork

log = logging.getLogger(__name__)

PARTITIONS_QUEUE = "simulation.partitions"


def _failure_context(row: Mapping[Any, Any]) -> str:
    return f"partition {row['partition']} ({row['year']}: {', '.join(row['states'])})"


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
            except (AttemptsExhausted, MissingInput) as exc:
                exhausted = isinstance(exc, AttemptsExhausted)
                if exhausted:
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
                if exhausted:
                    # The message goes to simulation.partitions.dlq, for a person to look at.
                    raise RejectMessage() from exc
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
            dataset_sha256=dataset.sha256,
            reform=policy.data,
            baseline=baseline.data if baseline is not None else None,
            outputs=tuple(simulation.get("outputs") or ()),
        )
