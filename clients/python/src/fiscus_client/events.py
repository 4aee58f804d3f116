"""Server-Sent Events as Fiscus streams them, read with httpx-sse."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
from httpx_sse import EventSource, ServerSentEvent

FINAL_EVENTS = frozenset({"completed", "failed", "cancelled"})

__all__ = ["FINAL_EVENTS", "ServerSentEvent", "aevents_of", "events_of", "is_final"]


def is_final(event: ServerSentEvent) -> bool:
    """A simulation's stream ends after this event."""
    return event.event in FINAL_EVENTS


def events_of(response: httpx.Response) -> Iterator[ServerSentEvent]:
    """The events of a streamed `text/event-stream` answer. Blocks without data (the
    first one's retry time, a heartbeat comment) are not events of a simulation."""
    for event in EventSource(response).iter_sse():
        if event.data:
            yield event


async def aevents_of(response: httpx.Response) -> AsyncIterator[ServerSentEvent]:
    """The events of a streamed `text/event-stream` answer, asynchronously."""
    async for event in EventSource(response).aiter_sse():
        if event.data:
            yield event
