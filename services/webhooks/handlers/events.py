"""When a subscribable event arrives: queue one delivery per subscribed endpoint."""

from __future__ import annotations

from collections.abc import Callable

from contracts.envelope import CloudEvent
from services.webhooks.db.scheduling import enqueue_for_subscribers
from services.webhooks.domain.endpoints import consumer_name
from shared.broker import EventHandler
from shared.db import Database


def handle_event(database: Database, first_delay: float, wake: Callable[[], None]) -> EventHandler:
    """The consumer of every subscribable event type, writing through `database`."""

    async def on_event(event: CloudEvent) -> None:
        async with database.unit_of_work() as uow:
            if not await uow.first_delivery(consumer_name(event.type), event):
                return
            queued = await enqueue_for_subscribers(uow, event, first_delay=first_delay)
            await uow.commit()
        if queued:
            wake()

    return on_event
