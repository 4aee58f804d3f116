"""Reads and writes of the `simulations` table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from services.simulation.db.tables import simulations
from services.simulation.domain.simulations import SimulationRequest, Status
from shared.db import UnitOfWork
from shared.pagination import Position, newest_first


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


async def list_simulations(
    uow: UnitOfWork,
    *,
    limit: int,
    after: Position | None = None,
    status: Status | None = None,
) -> Sequence[RowMapping]:
    """Newest first, from just after the `(created_at, id)` position `after`."""
    statement = newest_first(sa.select(simulations), simulations, after)
    if status is not None:
        statement = statement.where(simulations.c.status == status.value)
    return (await uow.execute(statement.limit(limit))).mappings().all()


async def _update(uow: UnitOfWork, simulation_id: str, **values: Any) -> None:
    await uow.execute(simulations.update().where(simulations.c.id == simulation_id).values(values))


async def mark_running(
    uow: UnitOfWork, simulation_id: str, *, started_at: datetime, attempts: int
) -> None:
    await _update(
        uow, simulation_id, status=Status.RUNNING.value, started_at=started_at, attempts=attempts
    )


async def set_attempts(uow: UnitOfWork, simulation_id: str, attempts: int) -> None:
    await _update(uow, simulation_id, attempts=attempts)


async def mark_completed(
    uow: UnitOfWork,
    simulation_id: str,
    *,
    completed_at: datetime,
    results: list[dict[str, Any]],
    timings: dict[str, Any],
    model_version: str,
    dataset_sha256: str,
) -> None:
    await _update(
        uow,
        simulation_id,
        status=Status.COMPLETED.value,
        completed_at=completed_at,
        results=results,
        timings=timings,
        model_version=model_version,
        dataset_sha256=dataset_sha256,
        error_type=None,
        error_reason=None,
    )


async def mark_failed(
    uow: UnitOfWork,
    simulation_id: str,
    *,
    completed_at: datetime,
    error_type: str,
    reason: str,
    attempts: int | None = None,
) -> None:
    values: dict[str, Any] = {
        "status": Status.FAILED.value,
        "completed_at": completed_at,
        "error_type": error_type[:128],
        "error_reason": reason[:4000],
    }
    if attempts is not None:
        values["attempts"] = attempts
    await _update(uow, simulation_id, **values)


async def mark_cancelled(
    uow: UnitOfWork, simulation_id: str, *, cancelled_at: datetime
) -> RowMapping:
    result = await uow.execute(
        simulations.update()
        .where(simulations.c.id == simulation_id)
        .values(status=Status.CANCELLED.value, cancelled_at=cancelled_at)
        .returning(*simulations.c)
    )
    return result.mappings().one()


async def count_by_status(connection: AsyncConnection) -> dict[str, int]:
    """How many simulations are in each status (those with none are absent)."""
    result = await connection.execute(
        sa.select(simulations.c.status, sa.func.count()).group_by(simulations.c.status)
    )
    return {status: count for status, count in result.all()}
