"""Reading and writing the `policies` table inside a unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from services.policy.db.tables import PUBLIC_AND_LIVE, policies
from shared.db import UnitOfWork
from shared.pagination import Position
from shared.principals import Caller
from shared.sorting import NEWEST_FIRST, in_order

PRIVATE, PUBLIC = "private", "public"


async def insert_policy(
    uow: UnitOfWork,
    *,
    policy_id: str,
    name: str,
    description: str | None,
    data: dict[str, Any],
    sha256: str,
    owner: str | None = None,
    visibility: str = PRIVATE,
) -> sa.RowMapping | None:
    """The new row; None when it is public and a live public policy has its content."""
    statement = (
        pg.insert(policies)
        .values(
            id=policy_id,
            name=name,
            description=description,
            data=data,
            sha256=sha256,
            owner=owner,
            visibility=visibility,
        )
        .on_conflict_do_nothing(index_elements=[policies.c.sha256], index_where=PUBLIC_AND_LIVE)
        .returning(*policies.c)
    )
    result = await uow.execute(statement)
    return result.mappings().first()


async def find_public_policy(uow: UnitOfWork, sha256: str) -> sa.RowMapping | None:
    """The live public policy with this content, if there is one."""
    statement = sa.select(policies).where(policies.c.sha256 == sha256, PUBLIC_AND_LIVE)
    return (await uow.execute(statement)).mappings().first()


def _visible_to(caller: Caller) -> sa.ColumnElement[bool]:
    """Live policies the caller may read: their own and public ones (an admin: all)."""
    live = policies.c.deleted_at.is_(None)
    if caller.is_admin:
        return live
    return sa.and_(live, sa.or_(policies.c.owner == caller.key_id, policies.c.visibility == PUBLIC))


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
    visibility: str | None = None,
    search: Sequence[str] = (),
) -> Sequence[sa.RowMapping]:
    """In `sort` order; `after` is the (created_at, id) of the last row of the previous page.

    Without `visibility`, a caller's own policies (an admin's: all); with it, the public
    policies of everyone or the caller's private ones. Each word of `search` must appear
    in the name or the description, in any case.
    """
    statement = sa.select(policies)
    if caller is not None:
        statement = statement.where(_visible_to(caller))
        if visibility != PUBLIC and not caller.is_admin:
            statement = statement.where(policies.c.owner == caller.key_id)
    if visibility is not None:
        statement = statement.where(policies.c.visibility == visibility)
    for word in search:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            sa.or_(
                policies.c.name.ilike(pattern, escape="\\"),
                policies.c.description.ilike(pattern, escape="\\"),
            )
        )
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


async def mark_deleted(uow: UnitOfWork, policy_id: str) -> sa.RowMapping:
    """Delete a policy (softly: its row stays, gone from the API); the deleted row."""
    return await update_policy(uow, policy_id, deleted_at=sa.func.now())
