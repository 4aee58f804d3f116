"""Putting deliveries in the queue (the `deliveries` table) for the delivery loop."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa

from contracts.envelope import CloudEvent
from services.webhooks.db.tables import deliveries, endpoints
from services.webhooks.domain.endpoints import ALL_EVENTS
from shared.db import UnitOfWork


def first_attempt_at(first_delay: float) -> sa.ColumnElement[object]:
    return sa.func.clock_timestamp() + timedelta(seconds=first_delay)


async def enqueue(
    uow: UnitOfWork,
    endpoint_id: str,
    event: CloudEvent,
    *,
    first_delay: float = 0.0,
    redelivery_of: str | None = None,
) -> str:
    """A new pending delivery of `event` to one endpoint; its id."""
    return await enqueue_body(
        uow,
        endpoint_id,
        event_id=event.id,
        event_type=event.type,
        body=event.model_dump_json(),
        first_delay=first_delay,
        redelivery_of=redelivery_of,
    )


async def enqueue_body(
    uow: UnitOfWork,
    endpoint_id: str,
    *,
    event_id: str,
    event_type: str,
    body: str,
    first_delay: float = 0.0,
    redelivery_of: str | None = None,
) -> str:
    """A new pending delivery of an event's CloudEvent JSON `body`; its id."""
    delivery_id = str(uuid.uuid4())
    await uow.execute(
        deliveries.insert().values(
            id=delivery_id,
            endpoint_id=endpoint_id,
            event_id=event_id,
            event_type=event_type,
            body=body,
            next_attempt_at=first_attempt_at(first_delay),
            redelivery_of=redelivery_of,
        )
    )
    return delivery_id


async def enqueue_for_subscribers(
    uow: UnitOfWork, event: CloudEvent, *, first_delay: float = 0.0
) -> list[str]:
    """One delivery of `event` to every enabled endpoint subscribed to its type."""
    subscribed = endpoints.c.event_types.overlap(
        sa.literal([event.type, ALL_EVENTS], endpoints.c.event_types.type)
    )
    rows = await uow.execute(
        sa.select(endpoints.c.id)
        .where(endpoints.c.enabled.is_(True), subscribed)
        .order_by(endpoints.c.id)
    )
    body = event.model_dump_json()
    return [
        await enqueue_body(
            uow,
            row.id,
            event_id=event.id,
            event_type=event.type,
            body=body,
            first_delay=first_delay,
        )
        for row in rows.all()
    ]
