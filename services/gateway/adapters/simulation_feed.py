"""The gateway's feed of simulation events from the bus, fanned out to open SSE streams.

Each gateway process binds its own queue to `simulation.*` (a `shared.broker.EventFeed`):
non-durable, exclusive and deleted with the connection, because it serves only the
streams this process has open now. Nothing is kept: a stream starts from the
simulation's current state (read from the simulation service), then follows this feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from services.gateway.domain.simulation_events import (
    StreamEvent,
    event_of_cloudevent,
    simulation_of,
)
from shared.broker import ConsumedQueue, EventFeed
from shared.settings import Settings

log = logging.getLogger(__name__)

QUEUE_PREFIX = "gateway.simulation-events"
ROUTING_KEY = "simulation.*"
# Events a slow stream may fall behind by; past it the oldest progress is dropped.
STREAM_BUFFER = 256


class SimulationEventFeed:
    """Delivers every simulation event this process receives to the streams following it."""

    def __init__(self, settings: Settings) -> None:
        self._followers: dict[str, set[asyncio.Queue[StreamEvent]]] = defaultdict(set)
        self._feed = EventFeed(
            settings,
            QUEUE_PREFIX,
            ROUTING_KEY,
            self._receive,
            description="The simulation events this gateway process streams to its open "
            "`GET /api/v1/simulations/{id}/events` (Server-Sent Events) connections.",
        )
        self.queue_name = self._feed.queue_name

    @property
    def consumed(self) -> ConsumedQueue:
        """The feed's queue, as the process lists it (shared.broker.EventConsumers)."""
        return self._feed.consumed

    async def start(self) -> None:
        """Connect, bind the process's queue and start receiving."""
        await self._feed.start()

    async def stop(self) -> None:
        await self._feed.stop()

    async def check(self) -> None:
        """Readiness: the broker answers."""
        await self._feed.check()

    @contextlib.contextmanager
    def follow(self, simulation_id: str) -> Iterator[asyncio.Queue[StreamEvent]]:
        """A queue of the events about `simulation_id` from now on, while the block runs."""
        events: asyncio.Queue[StreamEvent] = asyncio.Queue(maxsize=STREAM_BUFFER)
        self._followers[simulation_id].add(events)
        try:
            yield events
        finally:
            followers = self._followers.get(simulation_id)
            if followers is not None:
                followers.discard(events)
                if not followers:
                    del self._followers[simulation_id]

    @property
    def streams(self) -> int:
        """How many streams are following a simulation now."""
        return sum(len(followers) for followers in self._followers.values())

    async def _receive(self, body: dict[str, Any]) -> None:
        simulation_id = simulation_of(body)
        if simulation_id is None or simulation_id not in self._followers:
            return
        event = event_of_cloudevent(body)
        if event is None:
            return
        for events in tuple(self._followers.get(simulation_id, ())):
            deliver(events, event)


def deliver(events: asyncio.Queue[StreamEvent], event: StreamEvent) -> None:
    """Put `event` on a stream's queue; a full queue loses its oldest event, never the last."""
    while True:
        try:
            events.put_nowait(event)
            return
        except asyncio.QueueFull:
            with contextlib.suppress(asyncio.QueueEmpty):
                dropped = events.get_nowait()
                log.warning("slow event stream: dropped a %s event", dropped.event)
