"""Writing and reading the `audit_log` table."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from services.gateway.db.tables import audit_log
from shared.db import UnitOfWork
from shared.pagination import Position
from shared.sorting import NEWEST_FIRST, in_order


async def record(uow: UnitOfWork, **values: Any) -> None:
    await uow.execute(audit_log.insert().values(id=str(uuid.uuid4()), **values))


async def list_entries(
    uow: UnitOfWork,
    *,
    limit: int,
    after: Position | None = None,
    sort: str = NEWEST_FIRST,
    since: datetime | None = None,
    until: datetime | None = None,
    **equal_to: Any,
) -> Sequence[sa.RowMapping]:
    """Entries in `sort` order; `equal_to` filters columns by value (None: any)."""
    statement = sa.select(audit_log)
    for column, value in equal_to.items():
        if value is not None:
            statement = statement.where(audit_log.c[column] == value)
    if since is not None:
        statement = statement.where(audit_log.c.created_at >= since)
    if until is not None:
        statement = statement.where(audit_log.c.created_at < until)
    statement = in_order(statement, audit_log, sort, after).limit(limit)
    return (await uow.execute(statement)).mappings().all()
