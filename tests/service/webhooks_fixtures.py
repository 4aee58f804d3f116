"""The webhooks service under test: its settings (a fast retry schedule), the service
in process, and helpers that create endpoints and wait for deliveries."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx
import pytest
from standardwebhooks import Webhook

from contracts.envelope import CloudEvent
from contracts.events.simulation.v1 import ResultFile, SimulationCompleted
from services.webhooks.domain.endpoints import SUBSCRIBABLE_EVENT_TYPES, consumer_name
from services.webhooks.main import create_app
from shared.settings import Settings
from tests.service.webhook_receiver import Received

OWNER = {"x-fiscus-principal": "key-a:user"}
OTHER = {"x-fiscus-principal": "key-b:user"}
ADMIN = {"x-fiscus-principal": "admin:admin"}
DELAY = 0.3


async def delete_consumer_queues(amqp_url: str) -> None:
    """Drop the service's queues, with whatever earlier tests' events left in them."""
    async with await aio_pika.connect(amqp_url) as connection:
        channel = await connection.channel()
        for event_type in SUBSCRIBABLE_EVENT_TYPES:
            await channel.queue_delete(consumer_name(event_type))


@pytest.fixture(scope="module")
def webhook_settings(migrated: Settings) -> Settings:
    # Endpoints here subscribe to "*": events other tests of the session published into
    # these durable queues must not reach them.
    asyncio.run(delete_consumer_queues(migrated.amqp_url))
    return migrated.model_copy(
        update={
            "webhooks_allow_private": True,
            "webhooks_retry_schedule": [0, DELAY, DELAY, DELAY, DELAY],
            "webhooks_retry_jitter": 0.1,
            "webhooks_poll_seconds": 0.05,
            "webhooks_disable_after_failures": 3,
            "webhooks_timeout_seconds": 1.0,
        }
    )


@asynccontextmanager
async def service(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://webhooks") as client:
            yield client


async def create_endpoint(
    client: httpx.AsyncClient, url: str, event_types: list[str] | None = None
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/webhooks",
        json={"url": url, "event_types": event_types or ["*"], "description": "tests"},
        headers=OWNER,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def deliveries_of(client: httpx.AsyncClient, endpoint_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries", headers=OWNER)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def settled(client: httpx.AsyncClient, endpoint_id: str, delivery_id: str) -> dict[str, Any]:
    """The delivery once it is no longer pending."""
    async with asyncio.timeout(20):
        while True:
            for delivery in await deliveries_of(client, endpoint_id):
                if delivery["id"] == delivery_id and delivery["status"] != "pending":
                    return delivery
            await asyncio.sleep(0.05)


async def disabled(client: httpx.AsyncClient, endpoint_id: str) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while True:
            endpoint: dict[str, Any] = (
                await client.get(f"/api/v1/webhooks/{endpoint_id}", headers=OWNER)
            ).json()
            if not endpoint["enabled"]:
                return endpoint
            await asyncio.sleep(0.05)


def verified(secret: str, request: Received) -> dict[str, Any]:
    """The body of a delivery, after checking its signature as a receiver would."""
    document: dict[str, Any] = Webhook(secret).verify(request.body, request.headers)
    return document


def completed_event() -> CloudEvent:
    simulation_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    return CloudEvent.wrap(
        SimulationCompleted(
            simulation_id=simulation_id,
            dataset_id="d1",
            policy_id="p1",
            year=2026,
            results=[ResultFile(uri="file:///r.parquet", sha256="0" * 64, rows=1)],
            model_version="policyengine-us 2.68.0",
            dataset_sha256="1" * 64,
            started_at=now,
            completed_at=now,
            seconds=1.0,
        ),
        source="/fiscus/simulation",
        subject=simulation_id,
    )
