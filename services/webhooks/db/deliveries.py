"""Reading the delivery log, and the delivery loop's claims and outcomes, inside a unit of
work (putting deliveries in the queue is db/scheduling.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa

from services.webhooks.db.tables import attempts, deliveries, endpoints
from shared.db import UnitOfWork
from shared.pagination import Position, newest_first

DeliveryStatus = Literal["pending", "succeeded", "failed"]


async def get_delivery(uow: UnitOfWork, delivery_id: str) -> sa.RowMapping:
    """A delivery known to exist."""
    result = await uow.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id))
    return result.mappings().one()


async def find_delivery_to(
    uow: UnitOfWork, endpoint_id: str, delivery_id: str
) -> sa.RowMapping | None:
    """A delivery to the endpoint, or None."""
    result = await uow.execute(
        sa.select(deliveries).where(
            deliveries.c.id == delivery_id, deliveries.c.endpoint_id == endpoint_id
        )
    )
    return result.mappings().first()


async def list_deliveries(
    uow: UnitOfWork, endpoint_id: str, *, limit: int, after: Position | None = None
) -> Sequence[sa.RowMapping]:
    """The endpoint's deliveries, newest first."""
    statement = newest_first(
        sa.select(deliveries).where(deliveries.c.endpoint_id == endpoint_id),
        deliveries,
        after,
    ).limit(limit)
    return (await uow.execute(statement)).mappings().all()


async def attempts_of(uow: UnitOfWork, delivery_ids: Iterable[str]) -> dict[str, list[sa.Row[Any]]]:
    """The attempts of each delivery, oldest first."""
    rows = (
        await uow.execute(
            sa.select(attempts)
            .where(attempts.c.delivery_id.in_(list(delivery_ids)))
            .order_by(attempts.c.attempted_at, attempts.c.id)
        )
    ).all()
    by_delivery: dict[str, list[sa.Row[Any]]] = {}
    for row in rows:
        by_delivery.setdefault(row.delivery_id, []).append(row)
    return by_delivery


async def claim_due(uow: UnitOfWork, batch_size: int) -> Sequence[sa.Row[Any]]:
    """Up to `batch_size` pending deliveries due now to enabled endpoints, soonest first,
    with their endpoint's url and sealed secret; locked until the unit of work ends and
    skipped by every other claim meanwhile."""
    result = await uow.execute(
        sa.select(
            deliveries.c.id,
            deliveries.c.event_id,
            deliveries.c.body,
            deliveries.c.attempts,
            deliveries.c.endpoint_id,
            endpoints.c.url,
            endpoints.c.secret,
        )
        .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
        .where(
            deliveries.c.status == "pending",
            deliveries.c.next_attempt_at <= sa.func.clock_timestamp(),
            endpoints.c.enabled.is_(True),
        )
        .order_by(deliveries.c.next_attempt_at)
        .limit(batch_size)
        .with_for_update(of=deliveries, skip_locked=True)
    )
    return result.all()


async def record_attempt(
    uow: UnitOfWork,
    delivery_id: str,
    *,
    attempted_at: datetime,
    succeeded: bool,
    status_code: int | None,
    latency_ms: int,
    response_excerpt: str | None,
    error: str | None,
) -> None:
    await uow.execute(
        attempts.insert().values(
            delivery_id=delivery_id,
            attempted_at=attempted_at,
            succeeded=succeeded,
            status_code=status_code,
            latency_ms=latency_ms,
            response_excerpt=response_excerpt,
            error=error,
        )
    )


async def set_delivery(
    uow: UnitOfWork,
    delivery_id: str,
    made: int,
    status: DeliveryStatus,
    delay: float | None = None,
) -> None:
    """A delivery's state after `made` attempts; `delay`: its next attempt that many
    seconds from now (none without)."""
    next_attempt_at = (
        None if delay is None else sa.func.clock_timestamp() + timedelta(seconds=delay)
    )
    await uow.execute(
        deliveries.update()
        .where(deliveries.c.id == delivery_id)
        .values(
            status=status,
            attempts=made,
            next_attempt_at=next_attempt_at,
            updated_at=sa.func.clock_timestamp(),
        )
    )
