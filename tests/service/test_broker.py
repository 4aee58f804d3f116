"""The broker factory's safe defaults, on the real RabbitMQ."""

from __future__ import annotations

import asyncio
import json

import aio_pika

from contracts.envelope import CloudEvent
from shared.broker import EventConsumers, make_broker
from shared.settings import Settings
from tests.factories import bare_policy_event
from tests.service.bus import publish_bytes, queue_arguments


async def test_failing_message_is_retried_then_dead_lettered(settings: Settings) -> None:
    attempts: list[str] = []
    handled = asyncio.Event()

    async def always_fails(event: CloudEvent) -> None:
        attempts.append(event.id)
        if len(attempts) >= settings.delivery_limit + 1:
            handled.set()
        raise RuntimeError("poison")

    consumers = EventConsumers(make_broker(settings), settings)
    consumers.subscribe("tests.poison", "policy.created", always_fails)
    await consumers.start()
    try:
        event = bare_policy_event("poison")
        await publish_bytes(settings, event.model_dump_json().encode(), "policy.created")
        await asyncio.wait_for(handled.wait(), timeout=30)
        for _ in range(100):
            dead, _ = await queue_arguments(settings, "tests.poison.dlq")
            if dead:
                break
            await asyncio.sleep(0.1)
    finally:
        await consumers.stop()
    # The first delivery plus `delivery_limit` redeliveries, then the dead-letter queue.
    assert attempts == [event.id] * (settings.delivery_limit + 1)
    assert dead == 1


async def test_unparseable_message_is_dead_lettered_and_consuming_goes_on(
    settings: Settings,
) -> None:
    received: list[str] = []
    good_arrived = asyncio.Event()

    async def handler(event: CloudEvent) -> None:
        received.append(event.id)
        good_arrived.set()

    consumers = EventConsumers(make_broker(settings), settings)
    consumers.subscribe("tests.garbage", "policy.created", handler)
    await consumers.start()
    try:
        await publish_bytes(settings, b"{not json", "policy.created")
        await publish_bytes(
            settings, json.dumps({"type": "policy.created"}).encode(), "policy.created"
        )
        good = bare_policy_event("good")
        await publish_bytes(settings, good.model_dump_json().encode(), "policy.created")
        await asyncio.wait_for(good_arrived.wait(), timeout=30)
        for _ in range(200):
            dead, _ = await queue_arguments(settings, "tests.garbage.dlq")
            if dead == 2:
                break
            await asyncio.sleep(0.1)
    finally:
        await consumers.stop()
    assert received == [good.id]
    assert dead == 2


async def test_consumer_queue_is_a_durable_quorum_queue_with_a_dead_letter_route(
    settings: Settings,
) -> None:
    async def handler(event: CloudEvent) -> None:
        return None

    consumers = EventConsumers(make_broker(settings), settings)
    consumers.subscribe("tests.shape", "policy.created", handler)
    await consumers.start()
    await consumers.stop()
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        # Re-declaring with other arguments fails if the queue is not exactly this shape.
        queue = await channel.declare_queue(
            "tests.shape",
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-dead-letter-exchange": settings.dead_letter_exchange,
                "x-dead-letter-routing-key": "tests.shape",
                "x-delivery-limit": settings.delivery_limit,
            },
        )
        assert queue.durable
