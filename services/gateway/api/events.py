"""`GET /api/v1/simulations/{id}/events`: a simulation's live progress as Server-Sent Events.

The stream follows the gateway's bus feed (adapters/simulation_feed.py); the database
is read once, through the simulation service, for the state at connection time. The
feed is followed before that read, so no event between the two is lost. sse-starlette
writes the stream, its heartbeat comments, and ends it when the client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import Response

from services.gateway.adapters.simulation_feed import SimulationEventFeed
from services.gateway.api.guard import CurrentPrincipal, PublicRoute
from services.gateway.api.upstream import on_behalf_of, send
from services.gateway.domain.auth import Principal
from services.gateway.domain.simulation_events import (
    RETRY_MILLISECONDS,
    StreamEvent,
    event_of_state,
)
from shared.problems import PROBLEM_JSON, openapi_problem
from shared.settings import Settings

EVENT_STREAM = "text/event-stream"
# Lines end with a bare newline, as before sse-starlette (whose default is CRLF).
SEP = "\n"
STREAM_EXAMPLE = (
    "id: state-running\nevent: status\n"
    'data: {"simulation_id":"6f1c…","status":"running","simulation":{…}}\nretry: 3000\n\n'
    "id: 0b6e…\nevent: progress\n"
    'data: {"simulation_id":"6f1c…","partitions_done":3,"partitions_total":8,'
    '"households_done":1200,"households_total":3000,"elapsed_seconds":21.5,'
    '"estimated_seconds_left":35.8,"status":"running"}\n\n'
    ": heartbeat\n\n"
    "id: 9a41…\nevent: completed\n"
    'data: {"simulation_id":"6f1c…","status":"completed","seconds":58.2,…}\n\n'
)

router = APIRouter(
    prefix="/api/v1/simulations",
    tags=["simulations"],
    route_class=PublicRoute,
    responses={
        401: openapi_problem("Missing, wrong or revoked API key"),
        429: openapi_problem("Rate limit reached; see Retry-After"),
    },
)


def _feed(request: Request) -> SimulationEventFeed:
    feed: SimulationEventFeed = request.app.state.simulation_events
    return feed


async def current_state(
    request: Request, principal: Principal, simulation_id: str
) -> dict[str, Any] | Response:
    """The simulation as the simulation service shows this caller, or its error answer."""
    settings: Settings = request.app.state.settings
    client: httpx.AsyncClient = request.app.state.http
    url = settings.service_url("simulation") + f"/api/v1/simulations/{quote(simulation_id, '')}"
    headers = {"accept": "application/json", **on_behalf_of(principal)}
    answer = await send(client, client.build_request("GET", url, headers=headers), "simulation")
    if answer.status_code != 200:
        return Response(
            answer.content,
            status_code=answer.status_code,
            media_type=answer.headers.get("content-type", PROBLEM_JSON),
        )
    state: dict[str, Any] = answer.json()
    return state


def sent(event: StreamEvent, retry: int | None = None) -> ServerSentEvent:
    """One event on the wire: its id, name and JSON data (and, first, the retry time)."""
    data = json.dumps(event.data, separators=(",", ":"), default=str)
    return ServerSentEvent(data=data, event=event.event, id=event.id, retry=retry, sep=SEP)


def heartbeat() -> ServerSentEvent:
    return ServerSentEvent(comment="heartbeat", sep=SEP)


async def stream(
    first: StreamEvent,
    events: asyncio.Queue[StreamEvent],
    following: contextlib.ExitStack,
) -> AsyncIterator[ServerSentEvent]:
    """The stream's events: the first, then the feed's, until a final one."""
    with following:
        yield sent(first, retry=RETRY_MILLISECONDS)
        if first.is_final:
            return
        while True:
            event = await events.get()
            yield sent(event)
            if event.is_final:
                return


@router.get(
    "/{simulation_id}/events",
    summary="Follow a simulation's progress as Server-Sent Events",
    description="A `text/event-stream`: first the simulation's current state (event "
    "`status`, with the simulation as `GET /simulations/{id}` shows it), then `progress` "
    "events as partitions finish, and last one of `completed`, `failed` or `cancelled`, "
    "after which the stream ends. A stream opened after the simulation ended carries its "
    "final event alone. Streams carry a `: heartbeat` comment every "
    "`FISCUS_SSE_HEARTBEAT_SECONDS` (15). Events come from the message bus as they happen.",
    response_class=EventSourceResponse,
    openapi_extra={"security": [{"apiKey": []}]},
    responses={
        200: {
            "description": "The event stream",
            "content": {EVENT_STREAM: {"schema": {"type": "string"}, "example": STREAM_EXAMPLE}},
        },
        404: openapi_problem("No such simulation, or not one of the caller's"),
        503: openapi_problem("The simulation service is unreachable"),
    },
)
async def simulation_events(
    simulation_id: str, request: Request, principal: CurrentPrincipal
) -> Response:
    feed = _feed(request)
    settings: Settings = request.app.state.settings
    following = contextlib.ExitStack()
    # Followed before the state is read: an event published in between is not missed.
    events = following.enter_context(feed.follow(simulation_id))
    try:
        state = await current_state(request, principal, simulation_id)
    except BaseException:
        following.close()
        raise
    if isinstance(state, Response):
        following.close()
        return state
    return EventSourceResponse(
        stream(event_of_state(state), events, following),
        headers={"Cache-Control": "no-cache"},
        ping=settings.sse_heartbeat_seconds,
        ping_message_factory=heartbeat,
        sep=SEP,
    )
