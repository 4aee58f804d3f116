"""`GET /api/v1/simulations/{id}/events`: the gateway's SSE stream, fed by the real broker.

The gateway and the simulation service run under uvicorn on real sockets (streams need
real HTTP), on the real Postgres and RabbitMQ; the worker's events are published on the
bus the way a worker's outbox relay publishes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fiscus_client import AsyncFiscus
from fiscus_client.events import ServerSentEvent, aevents_of

from contracts.envelope import CloudEvent
from contracts.events.simulation.v1 import SimulationProgress
from services.gateway.main import create_app as create_gateway
from services.simulation.main import create_app as create_simulation_service
from shared.settings import Settings
from tests.factories import dataset_event, policy_event
from tests.service.bus import publish

ADMIN_KEY = "fk_test_events_" + uuid.uuid4().hex
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
HEARTBEAT_SECONDS = 0.4


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[int]:
    """`app` under uvicorn on a free loopback port, lifespan included; yields the port."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(3000):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert server.started, "the server did not start"
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
async def gateway_url(migrated: Settings) -> AsyncIterator[str]:
    async with serving(create_simulation_service(migrated)) as simulation_port:
        settings = Settings.model_validate(
            migrated.model_copy(
                update={
                    "admin_api_key": ADMIN_KEY,
                    "simulation_port": simulation_port,
                    "rate_limit_enabled": False,
                    "sse_heartbeat_seconds": HEARTBEAT_SECONDS,
                }
            ).model_dump()
        )
        gateway = create_gateway(settings)
        async with serving(gateway) as gateway_port:
            yield f"http://127.0.0.1:{gateway_port}"


@pytest.fixture
async def gateway(gateway_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway_url, headers=ADMIN, timeout=30) as client:
        yield client


async def queued_simulation(gateway: httpx.AsyncClient, settings: Settings) -> str:
    """A new simulation, queued by the real simulation service (no worker runs it)."""
    dataset_id, policy_id = f"dataset-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    await publish(settings.amqp_url, dataset_event(dataset_id))
    await publish(settings.amqp_url, policy_event(policy_id))
    answer = await gateway.post(
        "/api/v1/simulations", json={"dataset_id": dataset_id, "policy_id": policy_id, "year": 2024}
    )
    assert answer.status_code == 202, answer.text
    simulation_id: str = answer.json()["id"]
    return simulation_id


def progress(simulation_id: str, done: int, total: int) -> CloudEvent:
    payload = SimulationProgress(
        simulation_id=simulation_id,
        partitions_done=done,
        partitions_total=total,
        households_done=done * 10,
        households_total=total * 10,
        elapsed_seconds=1.5 * done,
        estimated_seconds_left=1.5 * (total - done),
    )
    return CloudEvent.wrap(payload, source="/fiscus/simulation", subject=simulation_id)


class OpenStream:
    """A stream being read: its events so far and its raw text, read in the background."""

    def __init__(self) -> None:
        self.events: list[ServerSentEvent] = []
        self.text = ""
        self.headers: httpx.Headers | None = None
        self.ended = asyncio.Event()
        self.arrived = asyncio.Event()

    async def read(self, client: httpx.AsyncClient, path: str) -> None:
        async with client.stream("GET", path) as answer:
            assert answer.status_code == 200, await answer.aread()
            self.headers = answer.headers
            text = answer.aiter_text

            async def kept(chunk_size: int | None = None) -> AsyncIterator[str]:
                # The raw text too, comments included, as the SDK's reader takes it in.
                async for chunk in text(chunk_size):
                    self.text += chunk
                    yield chunk

            answer.aiter_text = kept  # type: ignore[method-assign]
            async for event in aevents_of(answer):
                self.events.append(event)
                self.arrived.set()
        self.ended.set()

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[ServerSentEvent]:
        async with asyncio.timeout(timeout):
            while len(self.events) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.events


async def test_a_stream_follows_the_bus_until_the_simulation_ends(
    gateway: httpx.AsyncClient, migrated: Settings
) -> None:
    simulation_id = await queued_simulation(gateway, migrated)
    stream = OpenStream()
    reading = asyncio.create_task(
        stream.read(gateway, f"/api/v1/simulations/{simulation_id}/events")
    )
    first = (await stream.wait_for(1))[0]
    assert stream.headers is not None
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert first.event == "status"
    assert first.json()["status"] == "queued"
    assert first.json()["simulation"]["id"] == simulation_id

    await publish(migrated.amqp_url, progress(simulation_id, 1, 4))
    await publish(migrated.amqp_url, progress(str(uuid.uuid4()), 1, 2))  # another simulation's
    await publish(migrated.amqp_url, progress(simulation_id, 2, 4))
    events = await stream.wait_for(3)
    assert [e.event for e in events[1:3]] == ["progress", "progress"]
    assert [e.json()["partitions_done"] for e in events[1:3]] == [1, 2]
    assert events[1].json()["simulation_id"] == simulation_id
    assert events[1].id is not None

    await asyncio.sleep(HEARTBEAT_SECONDS * 3)
    assert ": heartbeat" in stream.text
    assert not stream.ended.is_set()

    # The cancel's event reaches the stream through the simulation service's outbox.
    cancelled = await gateway.post(f"/api/v1/simulations/{simulation_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    async with asyncio.timeout(15):
        await reading
    assert stream.events[-1].event == "cancelled"
    assert stream.events[-1].json()["simulation_id"] == simulation_id
    assert len(stream.events) == 4


async def test_a_stream_opened_after_the_end_carries_the_final_state_and_ends(
    gateway: httpx.AsyncClient, migrated: Settings
) -> None:
    simulation_id = await queued_simulation(gateway, migrated)
    assert (await gateway.post(f"/api/v1/simulations/{simulation_id}/cancel")).status_code == 200
    stream = OpenStream()
    async with asyncio.timeout(10):
        await stream.read(gateway, f"/api/v1/simulations/{simulation_id}/events")
    assert [e.event for e in stream.events] == ["cancelled"]
    assert stream.events[0].json()["simulation"]["status"] == "cancelled"


async def test_the_async_sdk_follows_a_stream(
    gateway_url: str, gateway: httpx.AsyncClient, migrated: Settings
) -> None:
    simulation_id = await queued_simulation(gateway, migrated)
    seen: list[str] = []
    arrived = asyncio.Event()

    async def seen_at_least(count: int) -> None:
        async with asyncio.timeout(10):
            while len(seen) < count:
                arrived.clear()
                await arrived.wait()

    async with AsyncFiscus(gateway_url, ADMIN_KEY) as fiscus:
        job = fiscus.simulation(simulation_id)

        async def follow() -> str:
            async for event in job.events(timeout=30):
                seen.append(event.event)
                arrived.set()
            return (await job.refresh()).status

        following = asyncio.create_task(follow())
        await seen_at_least(1)
        await publish(migrated.amqp_url, progress(simulation_id, 1, 1))
        await seen_at_least(2)
        await job.cancel()
        async with asyncio.timeout(15):
            assert await following == "cancelled"
    assert seen == ["status", "progress", "cancelled"]


async def test_unknown_simulation_is_a_404_problem_and_a_key_is_required(
    gateway: httpx.AsyncClient, gateway_url: str
) -> None:
    answer = await gateway.get("/api/v1/simulations/no-such-simulation/events")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    async with httpx.AsyncClient(base_url=gateway_url) as anonymous:
        unauthenticated = await anonymous.get("/api/v1/simulations/x/events")
    assert unauthenticated.status_code == 401


async def test_another_users_simulation_is_not_streamed(
    gateway: httpx.AsyncClient, migrated: Settings
) -> None:
    simulation_id = await queued_simulation(gateway, migrated)
    issued = await gateway.post("/api/v1/keys", json={"name": "someone else", "role": "user"})
    assert issued.status_code == 201, issued.text
    other = {"Authorization": f"Bearer {issued.json()['secret']}"}
    answer = await gateway.get(f"/api/v1/simulations/{simulation_id}/events", headers=other)
    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


def test_bus_events_become_stream_events() -> None:
    # The domain's view of a bus event, without the network.
    from services.gateway.api.events import sent
    from services.gateway.domain.simulation_events import event_of_cloudevent, event_of_state

    event = progress("s-1", 1, 2)
    streamed = event_of_cloudevent(event.model_dump(mode="json"))
    assert streamed is not None and not streamed.is_final
    assert sent(streamed).encode().startswith(f"id: {event.id}\nevent: progress\ndata: ".encode())
    state: dict[str, Any] = {"id": "s-1", "status": "completed", "at": datetime.now(UTC)}
    assert event_of_state(state).is_final
    assert event_of_cloudevent({"type": "simulation.requested", "data": {}}) is None
