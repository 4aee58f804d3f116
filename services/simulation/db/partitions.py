"""Row reads and writes of the `partitions` table (the handlers go through db/repository.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from services.simulation.db.tables import partitions, simulations
from services.simulation.domain.partitions import PartitionStatus, PlannedPartition
from services.simulation.domain.simulations import Status
from shared.db import UnitOfWork


async def insert_plan(
    uow: UnitOfWork, simulation_id: str, plan: Sequence[PlannedPartition], *, started_at: datetime
) -> None:
    """Store the plan and mark the simulation running with its totals."""
    await insert_partitions(uow, plan, simulation_id=simulation_id)
    await uow.execute(
        simulations.update()
        .where(simulations.c.id == simulation_id)
        .values(
            status=Status.RUNNING.value,
            started_at=started_at,
            partitions_total=len(plan),
            partitions_done=0,
            households_total=sum(p.households for p in plan),
            households_done=0,
        )
    )


async def insert_partitions(
    uow: UnitOfWork, plan: Sequence[PlannedPartition], *, simulation_id: str
) -> None:
    """Store a simulation's partitions, queued."""
    await uow.execute(
        partitions.insert(),
        [
            {
                "simulation_id": simulation_id,
                "partition": p.index,
                "year": p.year,
                "states": list(p.states),
                "households": p.households,
            }
            for p in plan
        ],
    )


async def find_partition(
    uow: UnitOfWork, simulation_id: str, partition: int, *, for_update: bool = False
) -> RowMapping | None:
    statement = sa.select(partitions).where(
        partitions.c.simulation_id == simulation_id, partitions.c.partition == partition
    )
    if for_update:
        statement = statement.with_for_update()
    return (await uow.execute(statement)).mappings().first()


async def partitions_of(uow: UnitOfWork, simulation_id: str) -> Sequence[RowMapping]:
    statement = (
        sa.select(partitions)
        .where(partitions.c.simulation_id == simulation_id)
        .order_by(partitions.c.partition)
    )
    return (await uow.execute(statement)).mappings().all()


async def mark_started(
    uow: UnitOfWork, simulation_id: str, partition: int, *, attempts: int, started_at: datetime
) -> None:
    await uow.execute(
        partitions.update()
        .where(partitions.c.simulation_id == simulation_id, partitions.c.partition == partition)
        .values(status=PartitionStatus.RUNNING.value, attempts=attempts, started_at=started_at)
    )


async def count_by_state(connection: AsyncConnection) -> dict[str, int]:
    """How many partitions are in each state (those with none are absent)."""
    result = await connection.execute(
        sa.select(partitions.c.status, sa.func.count()).group_by(partitions.c.status)
    )
    return {state: count for state, count in result.all()}
