"""A test's own subscriber on the events exchange, as another team would bind one."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
from aio_pika.abc import AbstractQueue


class EventTap:
    """An exclusive queue bound to `fiscus.events` with the given routing keys."""

    def __init__(self, queue: AbstractQueue) -> None:
        self._queue = queue

    async def next(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next event's CloudEvent JSON; fails if none arrives in time."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            message = await self._queue.get(fail=False)
            if message is not None:
                await message.ack()
                document: dict[str, Any] = json.loads(message.body)
                return document
            await asyncio.sleep(0.05)
        raise TimeoutError("no event arrived")

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
