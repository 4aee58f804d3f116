"""The household calculations' queue on the real broker: a delivery limit and a dead-letter
queue like every consumer queue, deadlines instead of a message TTL, and the classic queue
of an earlier version replaced.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest

from services.simulation.adapters.household_calls import HouseholdCalls
from services.simulation.adapters.households_queue import (
    DEADLINE_HEADER,
    HOUSEHOLDS_DEAD_LETTERS,
    HOUSEHOLDS_QUEUE,
    deadline_header,
    declare_households_queue,
    past_deadline,
)
from services.simulation.adapters.warm_engine import WarmEngine
from services.simulation.domain.household_engine import HouseholdOutcome, HouseholdRequest
from services.simulation.workers.households import (
    HouseholdBatcher,
    HouseholdCalculator,
    HouseholdServer,
)
from shared.broker import DeadLettering
from shared.problems import ProblemError
from shared.settings import Settings
from tests.conftest import TEST_VHOST, reset_vhost

# Beside the session's own (FISCUS_TEST_VHOST): runs side by side do not share it.
VHOST = f"{TEST_VHOST}-households"
DEAD_LETTERING = DeadLettering("fiscus.dead-letter", delivery_limit=2)


@pytest.fixture
def amqp_url(settings: Settings) -> str:
    reset_vhost(VHOST)
    return settings.amqp_url.rsplit("/", 1)[0] + f"/{VHOST}"


@pytest.fixture
async def connection(amqp_url: str) -> AsyncIterator[aio_pika.abc.AbstractRobustConnection]:
    connection = await aio_pika.connect_robust(amqp_url)
    yield connection
    await connection.close()


def queue_types() -> dict[str, str]:
    rabbitmqctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    listed = subprocess.run(
        [rabbitmqctl, "list_queues", "-p", VHOST, "name", "type", "--formatter", "json", "-q"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {queue["name"]: queue["type"] for queue in json.loads(listed)}


async def test_a_calculation_that_keeps_failing_goes_to_the_dead_letter_queue(
    connection: aio_pika.abc.AbstractRobustConnection,
) -> None:
    channel = await connection.channel()
    await declare_households_queue(channel, DEAD_LETTERING)
    body = json.dumps({"household": {"people": {"crash": {}}}}).encode()
    await channel.default_exchange.publish(aio_pika.Message(body), routing_key=HOUSEHOLDS_QUEUE)
    deliveries = 0
    for _ in range(10):
        # A worker takes it and dies before acknowledging it: its channel closes.
        taker = await connection.channel()
        queue = await taker.get_queue(HOUSEHOLDS_QUEUE, ensure=False)
        message = await queue.get(no_ack=False, fail=False)
        await taker.close()
        if message is None:
            break
        deliveries += 1
    assert deliveries == DEAD_LETTERING.delivery_limit + 1
    dead = await channel.get_queue(HOUSEHOLDS_DEAD_LETTERS, ensure=False)
    kept = await dead.get(no_ack=True, fail=False)
    assert kept is not None and kept.body == body
    assert queue_types() == {HOUSEHOLDS_QUEUE: "quorum", HOUSEHOLDS_DEAD_LETTERS: "quorum"}


async def test_the_classic_queue_of_an_earlier_version_is_replaced(
    connection: aio_pika.abc.AbstractRobustConnection,
) -> None:
    channel = await connection.channel()
    await channel.declare_queue(HOUSEHOLDS_QUEUE, durable=True)
    assert queue_types() == {HOUSEHOLDS_QUEUE: "classic"}
    queue = await declare_households_queue(channel, DEAD_LETTERING)
    assert queue_types()[HOUSEHOLDS_QUEUE] == "quorum"
    await channel.default_exchange.publish(aio_pika.Message(b"{}"), routing_key=HOUSEHOLDS_QUEUE)
    assert (await queue.get(no_ack=True, fail=False)) is not None


class CountingCalculator:
    model_version = "test"

    def __init__(self) -> None:
        self.calculated = 0

    def calculate(
        self, requests: list[HouseholdRequest], policy: dict[str, Any] | None
    ) -> list[HouseholdOutcome]:
        self.calculated += len(requests)
        return [HouseholdOutcome(household=request.household) for request in requests]


async def test_a_call_nobody_waits_for_is_dropped_and_a_live_one_answered(
    amqp_url: str,
) -> None:
    calls = HouseholdCalls(amqp_url, timeout_seconds=0.5, dead_lettering=DEAD_LETTERING)
    await calls.start()
    calculator = CountingCalculator()
    engine: WarmEngine[HouseholdCalculator] = WarmEngine(lambda: calculator, name="counting")
    batcher = HouseholdBatcher(engine, 0.001, 8)
    server = HouseholdServer(amqp_url, engine, batcher, 8, DEAD_LETTERING)
    try:
        with pytest.raises(ProblemError) as timed_out:
            await calls.call({"household": {"people": {"late": {}}}})
        assert timed_out.value.status == 504
        await asyncio.sleep(0.1)
        await server.start()
        for _ in range(100):
            try:
                await server.check()
                break
            except RuntimeError:
                await asyncio.sleep(0.05)
        answer = await calls.call({"household": {"people": {"on time": {}}}})
        assert answer["status"] == 200 and answer["household"] == {"people": {"on time": {}}}
        # The late call was taken from the queue and dropped, not calculated.
        assert calculator.calculated == 1
    finally:
        await server.stop()
        await calls.stop()


def test_a_deadline_is_past_only_once_it_has_passed() -> None:
    now = time.time()
    assert past_deadline(deadline_header(now, -0.002), now)
    assert not past_deadline(deadline_header(now, 0.002), now)
    assert not past_deadline({}, now) and not past_deadline(None, now)
    assert not past_deadline({DEADLINE_HEADER: "soon"}, now)
