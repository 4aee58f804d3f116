"""Every event consumer of the aggregation service, registered here and nowhere else.

Each consumer is a `shared.broker.Consumer`: its queue (also its inbox name), the event
type bound to it, and its handler.
"""

from __future__ import annotations

from contracts.events.simulation.v1 import SimulationCompleted
from services.aggregation.handlers.simulation_completed import (
    CONSUMER,
    handle_simulation_completed,
)
from shared.broker import Consumer
from shared.db import Database


def event_consumers(database: Database, source: str) -> list[Consumer]:
    """A completed simulation's impact report is built and announced."""
    return [
        Consumer(
            CONSUMER,
            SimulationCompleted.event_type,
            handle_simulation_completed(database, source),
        ),
    ]
