"""Every event consumer of the webhooks service, registered here and nowhere else.

Each subscribable event type has its own queue (`webhooks.<type>`), whose handler
queues one delivery per subscribed endpoint. Each consumer is a `shared.broker.Consumer`:
its queue (also its inbox name), the event type bound to it, and its handler.
"""

from __future__ import annotations

from collections.abc import Callable

from services.webhooks.domain.endpoints import SUBSCRIBABLE_EVENT_TYPES, consumer_name
from services.webhooks.handlers.events import handle_event
from shared.broker import Consumer
from shared.db import Database


def event_consumers(
    database: Database, first_delay: float, wake: Callable[[], None]
) -> list[Consumer]:
    """`wake` tells the delivery loop (workers/deliveries.py) that deliveries were queued."""
    return [
        Consumer(consumer_name(event_type), event_type, handle_event(database, first_delay, wake))
        for event_type in SUBSCRIBABLE_EVENT_TYPES
    ]
