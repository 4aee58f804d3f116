"""Simulations and their partitions as domain objects: loaded from their rows, and
stored by writing the columns a step changed.

A handler loads a `Simulation` (and its `Partition`s), takes one step
(domain/lifecycle.py), and stores the step's new state with `save(before, after)`:
only what the step changed is written, so a row's columns nobody's step touched (its
key, owner, requesters) are never overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from contracts.envelope import CloudEvent
from contracts.events.simulation.v1 import ResultFile
from services.simulation.db import partitions as partition_rows
from services.simulation.db import simulations as simulation_rows
from services.simulation.db.tables import partitions, simulations
from services.simulation.domain.lifecycle import Planned, Simulation
from services.simulation.domain.partitions import Partition, PartitionStatus, PlannedPartition
from services.simulation.domain.results import StoredResult
from services.simulation.domain.simulations import Status
from services.simulation.domain.transitions import Transition
from shared.db import UnitOfWork

# The class of the result-files advisory locks: a two-key lock, apart from the one-key
# locks of admissions and the outbox relay.
RESULT_FILES_LOCK = 2201
# Column bounds of the failure's description (the event carries it whole).
ERROR_TYPE_LENGTH = 128
ERROR_REASON_LENGTH = 4000


def simulation_of(row: Mapping[Any, Any]) -> Simulation:
    """The `Simulation` a `simulations` row stores."""
    return Simulation(
        id=row["id"],
        status=Status(row["status"]),
        dataset_id=row["dataset_id"],
        policy_id=row["policy_id"],
        baseline_policy_id=row["baseline_policy_id"],
        year=row["year"],
        years=tuple(row["years"] or [row["year"]]),
        region=row["region"],
        outputs=tuple(row["outputs"] or ()),
        attempts=row["attempts"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        cancelled_at=row["cancelled_at"],
        partitions_total=row["partitions_total"],
        partitions_done=row["partitions_done"],
        households_total=row["households_total"],
        households_done=row["households_done"],
        error_type=row["error_type"],
        error_reason=row["error_reason"],
        results=None
        if row["results"] is None
        else tuple(ResultFile.model_validate(record) for record in row["results"]),
        timings=row["timings"],
        model_version=row["model_version"],
        dataset_sha256=row["dataset_sha256"],
    )


def partition_of(row: Mapping[Any, Any]) -> Partition:
    """The `Partition` a `partitions` row stores."""
    return Partition(
        simulation_id=row["simulation_id"],
        index=row["partition"],
        year=row["year"],
        states=tuple(row["states"]),
        households=row["households"],
        status=PartitionStatus(row["status"]),
        attempts=row["attempts"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        results=None
        if row["results"] is None
        else tuple(StoredResult.from_record(record) for record in row["results"]),
        timings=row["timings"],
    )


def _simulation_state(simulation: Simulation) -> dict[str, Any]:
    """The columns a step may change, as the row stores them."""
    return {
        "status": simulation.status.value,
        "attempts": simulation.attempts,
        "started_at": simulation.started_at,
        "completed_at": simulation.completed_at,
        "cancelled_at": simulation.cancelled_at,
        "partitions_total": simulation.partitions_total,
        "partitions_done": simulation.partitions_done,
        "households_total": simulation.households_total,
        "households_done": simulation.households_done,
        "error_type": None
        if simulation.error_type is None
        else simulation.error_type[:ERROR_TYPE_LENGTH],
        "error_reason": None
        if simulation.error_reason is None
        else simulation.error_reason[:ERROR_REASON_LENGTH],
        "results": None
        if simulation.results is None
        else [file.model_dump() for file in simulation.results],
        "timings": None if simulation.timings is None else dict(simulation.timings),
        "model_version": simulation.model_version,
        "dataset_sha256": simulation.dataset_sha256,
    }


def _partition_state(partition: Partition) -> dict[str, Any]:
    """The columns a step may change, as the row stores them."""
    return {
        "status": partition.status.value,
        "attempts": partition.attempts,
        "started_at": partition.started_at,
        "completed_at": partition.completed_at,
        "results": None
        if partition.results is None
        else [result.as_record() for result in partition.results],
        "timings": None if partition.timings is None else dict(partition.timings),
    }


def _changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {column: value for column, value in after.items() if before[column] != value}


class SimulationRepository:
    """The simulations and partitions one unit of work reads and writes."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def get(self, simulation_id: str, *, for_update: bool = False) -> Simulation | None:
        """The simulation; `for_update` locks its row until the unit of work ends."""
        row = await simulation_rows.find_simulation(self._uow, simulation_id, for_update=for_update)
        return None if row is None else simulation_of(row)

    async def partition(
        self, simulation_id: str, index: int, *, for_update: bool = False
    ) -> Partition | None:
        """One partition; `for_update` locks its row until the unit of work ends."""
        row = await partition_rows.find_partition(
            self._uow, simulation_id, index, for_update=for_update
        )
        return None if row is None else partition_of(row)

    async def partitions(self, simulation_id: str) -> list[Partition]:
        """Every partition of the simulation, in order."""
        rows = await partition_rows.partitions_of(self._uow, simulation_id)
        return [partition_of(row) for row in rows]

    async def record(
        self, before: Simulation, step: Transition[Simulation], *, source: str
    ) -> None:
        """Store a step of the simulation (`before` as loaded) and put its events in the
        outbox, in order, in this unit of work."""
        await self.save(before, step.state)
        for payload in step.events:
            await self._uow.publish(CloudEvent.wrap(payload, source=source, subject=before.id))

    async def add_plan(self, before: Simulation, planned: Planned, *, source: str) -> None:
        """Store a plan's partitions, the simulation it set running, and the partitions'
        requests."""
        await partition_rows.insert_partitions(
            self._uow,
            [PlannedPartition(p.index, p.year, p.states, p.households) for p in planned.partitions],
            simulation_id=planned.state.id,
        )
        await self.record(before, planned, source=source)

    async def save(self, before: Simulation, after: Simulation) -> None:
        """Write the columns that changed from `before` (as loaded) to `after`."""
        if before.id != after.id:
            raise ValueError(f"simulation {after.id} saved over {before.id}")
        changed = _changed(_simulation_state(before), _simulation_state(after))
        if changed:
            await self._uow.execute(
                simulations.update().where(simulations.c.id == after.id).values(changed)
            )

    async def lock_result_files(self, simulation_id: str, *, exclusive: bool) -> None:
        """Take, until the unit of work ends, the simulation's result-files lock: shared
        to write a partition's files, exclusive to rank deciles over several partitions'.

        An advisory lock, not a row lock: storage is written under it, and neither
        the API's cancel nor another partition's count waits for it.
        """
        lock = sa.func.pg_advisory_xact_lock if exclusive else sa.func.pg_advisory_xact_lock_shared
        await self._uow.execute(
            sa.select(lock(sa.literal(RESULT_FILES_LOCK), sa.func.hashtext(simulation_id)))
        )

    async def save_partition(self, before: Partition, after: Partition) -> None:
        """Write the columns that changed from `before` (as loaded) to `after`."""
        if (before.simulation_id, before.index) != (after.simulation_id, after.index):
            raise ValueError(f"{after.context} saved over {before.context}")
        changed = _changed(_partition_state(before), _partition_state(after))
        if changed:
            await self._uow.execute(
                partitions.update()
                .where(
                    partitions.c.simulation_id == after.simulation_id,
                    partitions.c.partition == after.index,
                )
                .values(changed)
            )
