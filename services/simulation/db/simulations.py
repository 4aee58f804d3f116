"""Row reads and writes of the `simulations` table (the handlers go through db/repository.py)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from services.simulation.db.tables import simulations
from services.simulation.domain.simulations import SimulationRequest, Status
from shared.db import UnitOfWork


async def insert_simulation(
    uow: UnitOfWork, simulation_id: str, request: SimulationRequest, *, key: str | None = None
) -> RowMapping:
    result = await uow.execute(
        simulations.insert()
        .values(
            id=simulation_id,
            status=Status.QUEUED.value,
            dataset_id=request.dataset_id,
            policy_id=request.policy_id,
            baseline_policy_id=request.baseline_policy_id,
            year=request.first_year,
            years=request.years if request.years and len(request.years) > 1 else None,
            region=request.region,
            key=key,
            outputs=request.outputs or None,
        )
        .returning(*simulations.c)
    )
    return result.mappings().one()


async def find_simulation(
    uow: UnitOfWork, simulation_id: str, *, for_update: bool = False
) -> RowMapping | None:
    statement = sa.select(simulations).where(simulations.c.id == simulation_id)
    if for_update:
        statement = statement.with_for_update()
    return (await uow.execute(statement)).mappings().first()


async def _update(uow: UnitOfWork, simulation_id: str, **values: Any) -> None:
    await uow.execute(simulations.update().where(simulations.c.id == simulation_id).values(values))


async def set_attempts(uow: UnitOfWork, simulation_id: str, attempts: int) -> None:
    await _update(uow, simulation_id, attempts=attempts)


async def count_by_status(connection: AsyncConnection) -> dict[str, int]:
    """How many simulations are in each status (those with none are absent)."""
    result = await connection.execute(
        sa.select(simulations.c.status, sa.func.count()).group_by(simulations.c.status)
    )
    return {status: count for status, count in result.all()}
