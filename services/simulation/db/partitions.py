"""Reads and writes of the `partitions` table and of the simulations' progress counters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from services.simulation.db.tables import partitions, simulations
from services.simulation.domain.partitions import PlannedPartition
from services.simulation.domain.simulations import Status
from shared.db import UnitOfWork

QUEUED = "queued"
RUNNING = "running"
DONE = "done"


async def insert_plan(
    uow: UnitOfWork, simulation_id: str, plan: Sequence[PlannedPartition], *, started_at: datetime
) -> None:
    """Store the plan and mark the simulation running with its totals."""
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
        .values(status=RUNNING, attempts=attempts, started_at=started_at)
    )


async def set_attempts(uow: UnitOfWork, simulation_id: str, partition: int, attempts: int) -> None:
    await uow.execute(
        partitions.update()
        .where(partitions.c.simulation_id == simulation_id, partitions.c.partition == partition)
        .values(attempts=attempts)
    )


async def mark_done(
    uow: UnitOfWork,
    simulation_id: str,
    partition: int,
    *,
    completed_at: datetime,
    results: list[dict[str, Any]],
    timings: dict[str, Any],
) -> None:
    await uow.execute(
        partitions.update()
        .where(partitions.c.simulation_id == simulation_id, partitions.c.partition == partition)
        .values(status=DONE, completed_at=completed_at, results=results, timings=timings)
    )


async def replace_results(
    uow: UnitOfWork, simulation_id: str, partition: int, results: list[dict[str, Any]]
) -> None:
    await uow.execute(
        partitions.update()
        .where(partitions.c.simulation_id == simulation_id, partitions.c.partition == partition)
        .values(results=results)
    )


async def count_done(uow: UnitOfWork, simulation_id: str, households: int) -> RowMapping:
    """Count one more partition done; the simulation's row must be locked by the caller."""
    result = await uow.execute(
        simulations.update()
        .where(simulations.c.id == simulation_id)
        .values(
            partitions_done=simulations.c.partitions_done + 1,
            households_done=simulations.c.households_done + households,
        )
        .returning(*simulations.c)
    )
    return result.mappings().one()


async def count_by_state(connection: AsyncConnection) -> dict[str, int]:
    """How many partitions are in each state (those with none are absent)."""
    result = await connection.execute(
        sa.select(partitions.c.status, sa.func.count()).group_by(partitions.c.status)
    )
    return {state: count for state, count in result.all()}
