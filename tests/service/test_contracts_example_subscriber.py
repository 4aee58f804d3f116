"""examples/subscriber.py, run as another team would, against the real RabbitMQ."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aio_pika
import pytest

from contracts.envelope import CloudEvent
from contracts.events.dataset.v1 import DatasetRegistered
from contracts.events.simulation.v1 import SimulationFailed
from shared.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "subscriber.py"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
# Generous bounds so that a slow, shared machine does not fail the test; never waited out.
STARTUP_SECONDS = 30.0
EXIT_SECONDS = 30.0


@pytest.fixture
async def channel(settings: Settings) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        yield await connection.channel()


async def publish(exchange: aio_pika.abc.AbstractExchange, event: CloudEvent) -> None:
    """As the outbox relay does: structured CloudEvent JSON, persistent, with a traceparent."""
    await exchange.publish(
        aio_pika.Message(
            event.model_dump_json().encode(),
            content_type="application/cloudevents+json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=event.id,
            headers={"traceparent": TRACEPARENT},
        ),
        routing_key=event.type,
    )


@asynccontextmanager
async def example_subscriber(
    settings: Settings, queue: str, routing_key: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """The example, bound to `routing_key`, once it says it listens; killed if still running."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        "--amqp-url",
        settings.amqp_url,
        "--queue",
        queue,
        "--max-events",
        "1",
        routing_key,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        ready = await asyncio.wait_for(process.stderr.readline(), STARTUP_SECONDS)
        assert ready.decode().startswith(f"listening on {queue}")
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def next_message(queue: aio_pika.abc.AbstractQueue) -> aio_pika.abc.AbstractIncomingMessage:
    """The queue's next message; dead-lettering may complete a moment after the reject."""
    deadline = asyncio.get_running_loop().time() + EXIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        message = await queue.get(fail=False)
        if message is not None:
            return message
        await asyncio.sleep(0.05)
    raise TimeoutError(f"nothing arrived in {queue.name}")


async def test_the_example_subscriber_prints_the_events_it_is_bound_to(
    settings: Settings, channel: aio_pika.abc.AbstractChannel
) -> None:
    queue = f"example-team.{uuid.uuid4().hex[:8]}"
    async with example_subscriber(settings, queue, "simulation.*") as process:
        exchange = await channel.get_exchange("fiscus.events")
        unbound = CloudEvent.wrap(
            DatasetRegistered(
                dataset_id="d1",
                name="n",
                storage_uri="file:///d",
                sha256="a" * 64,
                year=2025,
                households=1,
                people=1,
                states=["CA"],
            ),
            source="/fiscus/dataset",
            subject="d1",
        )
        failed = CloudEvent.wrap(
            SimulationFailed(simulation_id="s1", reason="no engine", error_type="RuntimeError"),
            source="/fiscus/simulation",
            subject="s1",
        )
        await publish(exchange, unbound)
        await publish(exchange, failed)

        stdout, stderr = await asyncio.wait_for(process.communicate(), EXIT_SECONDS)

    assert process.returncode == 0, stderr.decode()
    printed = [json.loads(line) for line in stdout.decode().splitlines()]
    assert printed == [failed.model_dump(mode="json")]
    assert TRACEPARENT in stderr.decode()

    # Its own queue and dead-letter queue outlive it (durable), and it acknowledged the event.
    declared = await channel.declare_queue(queue, passive=True)
    assert declared.declaration_result.message_count == 0
    dead_letters = await channel.declare_queue(f"{queue}.dlq", passive=True)
    assert dead_letters.declaration_result.message_count == 0
    await declared.delete(if_unused=False, if_empty=False)
    await dead_letters.delete(if_unused=False, if_empty=False)


async def test_an_unreadable_message_goes_to_the_dead_letter_queue(
    settings: Settings, channel: aio_pika.abc.AbstractChannel
) -> None:
    queue = f"example-team.{uuid.uuid4().hex[:8]}"
    async with example_subscriber(settings, queue, "simulation.failed") as process:
        exchange = await channel.get_exchange("fiscus.events")
        await exchange.publish(aio_pika.Message(b"not json"), routing_key="simulation.failed")
        event = CloudEvent.wrap(
            SimulationFailed(simulation_id="s2", reason="r", error_type="E"), source="/s"
        )
        await publish(exchange, event)
        stdout, _ = await asyncio.wait_for(process.communicate(), EXIT_SECONDS)

    assert [json.loads(line)["id"] for line in stdout.decode().splitlines()] == [event.id]
    dead_letters = await channel.declare_queue(f"{queue}.dlq", passive=True)
    message = await next_message(dead_letters)
    assert message.body == b"not json"
    await message.ack()
    await channel.queue_delete(queue)
    await dead_letters.delete(if_unused=False, if_empty=False)
