"""Reading and writing the `policies` table inside a unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from services.policy.db.tables import policies
from shared.db import UnitOfWork
from shared.pagination import Position, newest_first


async def insert_policy(
    uow: UnitOfWork,
    *,
    policy_id: str,
    name: str,
    description: str | None,
    data: dict[str, Any],
    sha256: str,
) -> sa.RowMapping:
    result = await uow.execute(
        policies.insert()
        .values(id=policy_id, name=name, description=description, data=data, sha256=sha256)
        .returning(*policies.c)
    )
    return result.mappings().one()


async def find_policy(uow: UnitOfWork, policy_id: str) -> sa.RowMapping | None:
    result = await uow.execute(sa.select(policies).where(policies.c.id == policy_id))
    return result.mappings().first()


async def list_policies(
    uow: UnitOfWork, *, limit: int, after: Position | None = None
) -> Sequence[sa.RowMapping]:
    """Newest first; `after` is the (created_at, id) of the last row of the previous page."""
    statement = newest_first(sa.select(policies), policies, after)
    result = await uow.execute(statement.limit(limit))
    return result.mappings().all()
