"""After a broker restart, the queues a process holds for itself come back by themselves.

The simulation API's reply queue for household calls and the gateway's feed of
simulation events are exclusive queues of one connection: the broker forgets them
when it stops, so the process must declare them again when it reconnects.

Both run on a virtual host of their own on the stack's broker, so that the stack's
households worker and gateway, restarted with it, never see their messages.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage

from contracts.envelope import CloudEvent
from contracts.events.simulation.v1 import SimulationProgress
from services.gateway.adapters.simulation_feed import SimulationEventFeed
from services.simulation.adapters.household_calls import HouseholdCalls
from services.simulation.adapters.households_queue import declare_households_queue
from shared.problems import ProblemError
from shared.settings import Settings
from tests.infrastructure import PrivateRabbitMQ
from tests.service.bus import publish

T = TypeVar("T")
RECONNECT_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def amqp_url(private_rabbitmq: PrivateRabbitMQ) -> str:
    return private_rabbitmq.vhost_url("broker-reconnect")


@asynccontextmanager
async def echoing_households_worker(amqp_url: str) -> AsyncIterator[None]:
    """Stands in for the households worker: replies to each call with its body."""
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel()
    queue = await declare_households_queue(channel)

    async def reply(message: AbstractIncomingMessage) -> None:
        async with message.process():
            await channel.default_exchange.publish(
                aio_pika.Message(
                    json.dumps({"echo": json.loads(message.body)}).encode(),
                    correlation_id=message.correlation_id,
                ),
                routing_key=message.reply_to or "",
            )

    await queue.consume(reply)
    try:
        yield
    finally:
        await connection.close()


async def once_reconnected(attempt: Callable[[], Awaitable[T]]) -> tuple[T, float]:
    """The first result of `attempt` that does not fail, and how long it took to get it."""
    started = time.monotonic()
    while True:
        try:
            return await attempt(), time.monotonic() - started
        except Exception:
            if time.monotonic() - started > RECONNECT_TIMEOUT:
                raise
        await asyncio.sleep(0.5)


async def test_household_calls_are_answered_again_after_a_broker_restart(
    private_rabbitmq: PrivateRabbitMQ, amqp_url: str
) -> None:
    calls = HouseholdCalls(amqp_url, timeout_seconds=3)
    async with echoing_households_worker(amqp_url):
        await calls.start()
        try:
            assert await calls.call({"n": 1}) == {"echo": {"n": 1}}
            await asyncio.to_thread(private_rabbitmq.restart)

            async def second() -> dict[str, Any]:
                try:
                    return await calls.call({"n": 2})
                except ProblemError as exc:  # 503/504 while reconnecting
                    raise RuntimeError(exc.detail) from exc

            answer, _ = await once_reconnected(second)
            assert answer == {"echo": {"n": 2}}
            await calls.check()
        finally:
            await calls.stop()


async def test_the_gateway_feed_follows_simulation_events_again_after_a_broker_restart(
    private_rabbitmq: PrivateRabbitMQ, amqp_url: str
) -> None:
    settings = Settings(environment="test", amqp_url=amqp_url)
    feed = SimulationEventFeed(settings)
    await feed.start()
    try:
        with feed.follow("sim-1") as events:
            await publish(settings.amqp_url, progress("sim-1", 1))
            assert (await asyncio.wait_for(events.get(), 10)).event == "progress"

            await asyncio.to_thread(private_rabbitmq.restart)

            async def next_event() -> str:
                await publish(settings.amqp_url, progress("sim-1", 2))
                return (await asyncio.wait_for(events.get(), 2)).event

            event, _ = await once_reconnected(next_event)
            assert event == "progress"
        await feed.check()
    finally:
        await feed.stop()


def progress(simulation_id: str, done: int) -> CloudEvent:
    return CloudEvent.wrap(
        SimulationProgress(
            simulation_id=simulation_id,
            partitions_done=done,
            partitions_total=4,
            households_done=done * 10,
            households_total=40,
            elapsed_seconds=float(done),
        ),
        source="/tests",
        subject=simulation_id,
    )
