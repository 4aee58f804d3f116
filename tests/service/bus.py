"""The tests' side of the events exchange: a subscriber of their own, as another team
would bind one, publishing as the outbox relay does (or any bytes at all), and queue
depths and arguments."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

from contracts.envelope import CloudEvent
from shared.settings import Settings
from tests.conftest import TEST_VHOST


class EventTap:
    """An exclusive queue bound to `fiscus.events` with the given routing keys."""

    def __init__(self, queue: AbstractQueue) -> None:
        self._queue = queue

    async def next_message(self, timeout: float = 10.0) -> AbstractIncomingMessage:
        """The next message, acknowledged; fails if none arrives in time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            try:
                # The broker's answer may be slow while a worker in this process computes:
                # give the request the time left, not aio-pika's 5 s.
                message = await self._queue.get(fail=False, timeout=max(deadline - loop.time(), 5))
            except TimeoutError:
                continue
            if message is not None:
                await message.ack()
                return message
            await asyncio.sleep(0.05)
        raise TimeoutError("no event arrived")

    async def next(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next event's CloudEvent JSON; fails if none arrives in time."""
        document: dict[str, Any] = json.loads((await self.next_message(timeout)).body)
        return document

    async def message_about(self, subject: str, timeout: float = 30.0) -> AbstractIncomingMessage:
        """The first message whose event is about `subject`; events of earlier tests may
        come before it."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            message = await self.next_message(timeout=max(remaining, 0.0))
            if json.loads(message.body).get("subject") == subject:
                return message

    async def drain(self, wait: float = 0.5) -> list[dict[str, Any]]:
        """Every event that arrives within `wait` seconds."""
        events: list[dict[str, Any]] = []
        try:
            while True:
                events.append(await self.next(timeout=wait))
        except TimeoutError:
            return events


@asynccontextmanager
async def event_tap(
    amqp_url: str, *routing_keys: str, exchange: str = "fiscus.events"
) -> AsyncIterator[EventTap]:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        events = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(f"test.tap.{uuid.uuid4().hex[:8]}", exclusive=True)
        for key in routing_keys or ("#",):
            await queue.bind(events, routing_key=key)
        yield EventTap(queue)
    finally:
        await connection.close()


async def publish(amqp_url: str, event: CloudEvent) -> None:
    """Publish an event the way the outbox relay does, as a redelivery or another producer."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange("fiscus.events")
        await exchange.publish(
            aio_pika.Message(
                event.model_dump_json().encode(),
                content_type="application/cloudevents+json",
                message_id=event.id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=event.type,
            mandatory=True,
        )


async def publish_bytes(settings: Settings, body: bytes, routing_key: str) -> None:
    """Publish `body` as it is, a CloudEvent or not, on the settings' events exchange."""
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


def queue_depth(queue: str) -> int:
    """Messages in a queue of the tests' virtual host, ready or delivered but not acknowledged."""
    rabbitmqctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    listed = subprocess.run(
        [
            rabbitmqctl,
            "list_queues",
            "-p",
            TEST_VHOST,
            "name",
            "messages",
            "-q",
            "--no-table-headers",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in listed.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == queue:
            return int(parts[1])
    raise LookupError(queue)


async def wait_until_consumed(queue: str, timeout: float = 60.0) -> None:
    """Until every message of `queue` is acknowledged; TimeoutError after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            if await asyncio.to_thread(queue_depth, queue) == 0:
                return
            await asyncio.sleep(0.2)
