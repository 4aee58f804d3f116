"""Who may read which simulation (its requesters, and every admin); which datasets and
policies a caller may run one on is domain/admissions.py's `ProjectedInput.usable_by`.

A simulation is content-addressed, so two callers asking for the same thing share one
simulation: the first is its owner, every caller answered with it is a requester and
may read it. Only its owner (or an admin) may cancel it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from services.simulation.db.tables import simulations
from shared.db import UnitOfWork
from shared.pagination import Position
from shared.principals import Caller
from shared.sorting import NEWEST_FIRST, in_order


def _requested_by(key_id: str) -> sa.ColumnElement[bool]:
    return simulations.c.requesters.contains(sa.cast([key_id], simulations.c.requesters.type))


def visible_to(caller: Caller) -> sa.ColumnElement[bool]:
    if caller.is_admin or caller.key_id is None:
        return sa.true()
    return _requested_by(caller.key_id)


async def find_visible(
    uow: UnitOfWork, simulation_id: str, caller: Caller, *, for_update: bool = False
) -> RowMapping | None:
    statement = sa.select(simulations).where(simulations.c.id == simulation_id, visible_to(caller))
    if for_update:
        statement = statement.with_for_update()
    return (await uow.execute(statement)).mappings().first()


async def list_visible(
    uow: UnitOfWork,
    caller: Caller,
    *,
    limit: int,
    after: Position | None = None,
    sort: str = NEWEST_FIRST,
    status: str | None = None,
    dataset_id: str | None = None,
    policy_id: str | None = None,
    year: int | None = None,
) -> Sequence[RowMapping]:
    """The caller's simulations in `sort` order, from just after the position `after`."""
    statement = sa.select(simulations).where(visible_to(caller))
    for column, value in (
        (simulations.c.status, status),
        (simulations.c.dataset_id, dataset_id),
        (simulations.c.policy_id, policy_id),
        (simulations.c.year, year),
    ):
        if value is not None:
            statement = statement.where(column == value)
    statement = in_order(statement, simulations, sort, after).limit(limit)
    return (await uow.execute(statement)).mappings().all()


async def add_requesters(uow: UnitOfWork, pairs: Sequence[tuple[str, Caller]]) -> None:
    """Let each caller read its simulation (pairs of simulation id and caller), in one
    statement executed for every pair; the first requester of a simulation without an
    owner becomes its owner, and a caller already among its requesters is not added again.
    """
    rows = [
        {"b_simulation_id": simulation_id, "b_key_id": caller.key_id}
        for simulation_id, caller in pairs
        if caller.key_id is not None
    ]
    if not rows:
        return
    requesters = simulations.c.requesters
    key_id: sa.BindParameter[str] = sa.bindparam("b_key_id")
    await uow.execute(
        simulations.update()
        .where(
            simulations.c.id == sa.bindparam("b_simulation_id"),
            sa.not_(requesters.any(key_id)),
        )
        .values(
            requesters=sa.func.array_append(requesters, key_id),
            owner=sa.func.coalesce(simulations.c.owner, key_id),
        ),
        rows,
    )


def may_cancel_as(row: RowMapping, caller: Caller) -> bool:
    """Cancelling stops the work for every requester: the owner's or an admin's call."""
    return caller.is_admin or (caller.key_id is not None and row["owner"] == caller.key_id)
