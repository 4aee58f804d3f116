"""The broker factory's safe defaults, on the real RabbitMQ."""

from __future__ import annotations

import asyncio
import json

import aio_pika

from contracts.envelope import CloudEvent
from contracts.events.policy.v1 import PolicyCreated
from shared.broker import EventConsumers, make_broker
from shared.settings import Settings


def policy_event(name: str) -> CloudEvent:
    return CloudEvent.wrap(
        PolicyCreated(policy_id=name, name=name, sha256="0" * 64, data={}), source="/tests"
    )


async def publish(settings: Settings, body: bytes, routing_key: str) -> None:
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            settings.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        await exchange.publish(
            aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=routing_key,
        )


async def queue_arguments(settings: Settings, name: str) -> tuple[int, dict[str, object]]:
    """Message count of a queue, and its arguments (a passive declare)."""
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        declared = queue.declaration_result
        return declared.message_count or 0, dict(queue.arguments or {})


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
        event = policy_event("poison")
        await publish(settings, event.model_dump_json().encode(), "policy.created")
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
        await publish(settings, b"{not json", "policy.created")
        await publish(settings, json.dumps({"type": "policy.created"}).encode(), "policy.created")
        good = policy_event("good")
        await publish(settings, good.model_dump_json().encode(), "policy.created")
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
