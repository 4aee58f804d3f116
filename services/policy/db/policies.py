"""Reading and writing the `policies` table inside a unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from services.policy.db.tables import policies
from shared.db import UnitOfWork
from shared.pagination import Position
from shared.principals import Caller
from shared.sorting import NEWEST_FIRST, in_order


async def insert_policy(
    uow: UnitOfWork,
    *,
    policy_id: str,
    name: str,
    description: str | None,
    data: dict[str, Any],
    sha256: str,
    owner: str | None = None,
) -> sa.RowMapping:
    result = await uow.execute(
        policies.insert()
        .values(
            id=policy_id,
            name=name,
            description=description,
            data=data,
            sha256=sha256,
            owner=owner,
        )
        .returning(*policies.c)
    )
    return result.mappings().one()


def _visible_to(caller: Caller) -> sa.ColumnElement[bool]:
    live = policies.c.deleted_at.is_(None)
    if caller.is_admin:
        return live
    return sa.and_(live, policies.c.owner == caller.key_id)


async def find_policy(
    uow: UnitOfWork, policy_id: str, caller: Caller | None = None, *, for_update: bool = False
) -> sa.RowMapping | None:
    """The policy if it exists, is not deleted and (given a caller) is visible to them."""
    statement = sa.select(policies).where(policies.c.id == policy_id)
    if caller is not None:
        statement = statement.where(_visible_to(caller))
    if for_update:
        statement = statement.with_for_update()
    result = await uow.execute(statement)
    return result.mappings().first()


async def list_policies(
    uow: UnitOfWork,
    *,
    limit: int,
    after: Position | None = None,
    caller: Caller | None = None,
    sort: str = NEWEST_FIRST,
    name: str | None = None,
    sha256: str | None = None,
) -> Sequence[sa.RowMapping]:
    """In `sort` order; `after` is the (created_at, id) of the last row of the previous page."""
    statement = sa.select(policies)
    if caller is not None:
        statement = statement.where(_visible_to(caller))
    if name is not None:
        statement = statement.where(policies.c.name == name)
    if sha256 is not None:
        statement = statement.where(policies.c.sha256 == sha256)
    result = await uow.execute(in_order(statement, policies, sort, after).limit(limit))
    return result.mappings().all()


async def update_policy(uow: UnitOfWork, policy_id: str, **values: Any) -> sa.RowMapping:
    result = await uow.execute(
        policies.update()
        .where(policies.c.id == policy_id)
        .values(**values, updated_at=sa.func.now())
        .returning(*policies.c)
    )
    return result.mappings().one()
