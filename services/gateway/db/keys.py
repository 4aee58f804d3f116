"""Reading and writing the `api_keys` table inside a unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from services.gateway.db.tables import api_keys
from shared.db import UnitOfWork
from shared.pagination import Position
from shared.sorting import NEWEST_FIRST, in_order


async def insert_key(uow: UnitOfWork, **values: Any) -> sa.RowMapping:
    result = await uow.execute(api_keys.insert().values(**values).returning(*api_keys.c))
    return result.mappings().one()


async def find_key(uow: UnitOfWork, key_id: str) -> sa.RowMapping | None:
    result = await uow.execute(sa.select(api_keys).where(api_keys.c.id == key_id))
    return result.mappings().first()


async def find_key_by_prefix(uow: UnitOfWork, prefix: str) -> sa.RowMapping | None:
    result = await uow.execute(sa.select(api_keys).where(api_keys.c.prefix == prefix))
    return result.mappings().first()


async def list_keys(
    uow: UnitOfWork,
    *,
    limit: int,
    after: Position | None = None,
    only_id: str | None = None,
    sort: str = NEWEST_FIRST,
    role: str | None = None,
    revoked: bool | None = None,
) -> Sequence[sa.RowMapping]:
    """In `sort` order; `only_id` restricts the list to one key (what a non-admin sees)."""
    statement = sa.select(api_keys)
    if only_id is not None:
        statement = statement.where(api_keys.c.id == only_id)
    if role is not None:
        statement = statement.where(api_keys.c.role == role)
    if revoked is not None:
        revoked_at = api_keys.c.revoked_at
        statement = statement.where(revoked_at.is_not(None) if revoked else revoked_at.is_(None))
    result = await uow.execute(in_order(statement, api_keys, sort, after).limit(limit))
    return result.mappings().all()


async def revoke_key(uow: UnitOfWork, key_id: str) -> sa.RowMapping | None:
    """Revoke once: a second revocation keeps the first time."""
    result = await uow.execute(
        api_keys.update()
        .where(api_keys.c.id == key_id)
        .values(revoked_at=sa.func.coalesce(api_keys.c.revoked_at, sa.func.now()))
        .returning(*api_keys.c)
    )
    return result.mappings().first()
