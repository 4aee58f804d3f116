"""Reading and writing the `endpoints` table inside a unit of work."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from services.webhooks.db.tables import endpoints
from shared.db import UnitOfWork
from shared.pagination import Position
from shared.principals import Caller
from shared.sorting import NEWEST_FIRST, in_order


async def find_endpoint(
    uow: UnitOfWork, endpoint_id: str, *, lock: bool = False
) -> sa.RowMapping | None:
    """An endpoint that is not deleted; `lock`: held under its row lock until the commit."""
    statement = sa.select(endpoints).where(
        endpoints.c.id == endpoint_id, endpoints.c.deleted_at.is_(None)
    )
    if lock:
        statement = statement.with_for_update()
    return (await uow.execute(statement)).mappings().first()


async def insert_endpoint(
    uow: UnitOfWork,
    *,
    owner: str | None,
    url: str,
    description: str,
    event_types: list[str],
    sealed_secret: str,
) -> sa.RowMapping:
    """A new endpoint with a fresh id; `sealed_secret` is its secret as the table keeps it."""
    result = await uow.execute(
        endpoints.insert()
        .values(
            id=str(uuid.uuid4()),
            owner=owner,
            url=url,
            description=description,
            event_types=event_types,
            secret=sealed_secret,
        )
        .returning(*endpoints.c)
    )
    return result.mappings().one()


async def list_endpoints(
    uow: UnitOfWork,
    *,
    limit: int,
    after: Position | None = None,
    sort: str = NEWEST_FIRST,
    caller: Caller,
    enabled: bool | None = None,
    event_type: str | None = None,
) -> Sequence[sa.RowMapping]:
    """Endpoints not deleted that `caller` sees, in `sort` order; `event_type`: those
    subscribed to it (or to every type)."""
    statement = sa.select(endpoints).where(endpoints.c.deleted_at.is_(None))
    if not caller.is_admin:
        statement = statement.where(endpoints.c.owner == caller.key_id)
    if enabled is not None:
        statement = statement.where(endpoints.c.enabled.is_(enabled))
    if event_type is not None:
        subscribed = sa.cast([event_type, "*"], endpoints.c.event_types.type)
        statement = statement.where(endpoints.c.event_types.overlap(subscribed))
    result = await uow.execute(in_order(statement, endpoints, sort, after).limit(limit))
    return result.mappings().all()


async def update_endpoint(uow: UnitOfWork, endpoint_id: str, **changes: Any) -> sa.RowMapping:
    """Change an endpoint's columns; the changed row."""
    result = await uow.execute(
        endpoints.update()
        .where(endpoints.c.id == endpoint_id)
        .values(**changes, updated_at=sa.func.now())
        .returning(*endpoints.c)
    )
    return result.mappings().one()


async def delete_endpoint(uow: UnitOfWork, endpoint_id: str) -> None:
    """Soft: disabled, so that no delivery is queued or sent to it again; its log stays."""
    await uow.execute(
        endpoints.update()
        .where(endpoints.c.id == endpoint_id)
        .values(
            deleted_at=sa.func.now(),
            updated_at=sa.func.now(),
            enabled=False,
            disabled_reason="deleted",
        )
    )


async def replace_secret(uow: UnitOfWork, endpoint_id: str, sealed_secret: str) -> None:
    await uow.execute(
        endpoints.update()
        .where(endpoints.c.id == endpoint_id)
        .values(secret=sealed_secret, updated_at=sa.func.now())
    )


async def reset_failures(uow: UnitOfWork, endpoint_id: str) -> None:
    """After a successful attempt: no consecutive failures."""
    await uow.execute(
        endpoints.update().where(endpoints.c.id == endpoint_id).values(consecutive_failures=0)
    )


async def count_failure(uow: UnitOfWork, endpoint_id: str) -> int:
    """After a failed attempt: the endpoint's consecutive failures, this one counted."""
    result = await uow.execute(
        endpoints.update()
        .where(endpoints.c.id == endpoint_id)
        .values(consecutive_failures=endpoints.c.consecutive_failures + 1)
        .returning(endpoints.c.consecutive_failures)
    )
    failures: int = result.scalar_one()
    return failures


async def disable_endpoint(uow: UnitOfWork, endpoint_id: str, reason: str) -> sa.RowMapping | None:
    """Disable an endpoint that is still enabled: its owner and url, or None when it was
    not enabled."""
    result = await uow.execute(
        endpoints.update()
        .where(endpoints.c.id == endpoint_id, endpoints.c.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason, updated_at=sa.func.now())
        .returning(endpoints.c.owner, endpoints.c.url)
    )
    return result.mappings().first()
