"""Reading and writing the `policies` table inside a unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from services.policy.db.tables import policies
from shared.db import UnitOfWork


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
    uow: UnitOfWork, *, limit: int, after: tuple[datetime, str] | None = None
) -> Sequence[sa.RowMapping]:
    """Newest first; `after` is the (created_at, id) of the last row of the previous page."""
    statement = sa.select(policies).order_by(policies.c.created_at.desc(), policies.c.id.desc())
    if after is not None:
        statement = statement.where(
            sa.tuple_(policies.c.created_at, policies.c.id)
            < sa.tuple_(
                sa.literal(after[0], policies.c.created_at.type),
                sa.literal(after[1], policies.c.id.type),
            )
        )
    result = await uow.execute(statement.limit(limit))
    return result.mappings().all()
