"""The households worker's FastStream subscriber on FastStream's in-memory test broker: the
reply to each request, batched, and a request past its deadline left uncalculated.

tests/service/test_households_queue.py runs the same subscriber on the real broker.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faststream.rabbit import RabbitBroker, RabbitMessage, TestRabbitBroker

from services.simulation.adapters.households_queue import HOUSEHOLDS_QUEUE, deadline_header
from services.simulation.adapters.warm_engine import WarmEngine
from services.simulation.domain.household_engine import HouseholdOutcome, HouseholdRequest
from services.simulation.workers.households import (
    HouseholdBatcher,
    HouseholdCalculator,
    HouseholdServer,
)


class EchoCalculator:
    """Answers each household with itself; records the size of each batch."""

    model_version = "test"

    def __init__(self) -> None:
        self.batches: list[int] = []

    def calculate(
        self, requests: list[HouseholdRequest], policy: dict[str, Any] | None
    ) -> list[HouseholdOutcome]:
        self.batches.append(len(requests))
        return [HouseholdOutcome(household=request.household) for request in requests]


@pytest.fixture
async def calculator() -> EchoCalculator:
    return EchoCalculator()


@pytest.fixture
async def broker(calculator: EchoCalculator) -> AsyncIterator[RabbitBroker]:
    engine: WarmEngine[HouseholdCalculator] = WarmEngine(lambda: calculator, name="echo")
    batcher = HouseholdBatcher(engine, 0.05, 8)
    server = HouseholdServer("amqp://guest:guest@127.0.0.1:5672/", engine, batcher, 8)
    batcher.start()
    try:
        async with TestRabbitBroker(server.broker) as broker:
            yield broker
    finally:
        await batcher.stop()


async def ask(broker: RabbitBroker, body: bytes, seconds: float = 10.0) -> RabbitMessage:
    reply: RabbitMessage = await broker.request(
        body,
        HOUSEHOLDS_QUEUE,
        headers={**deadline_header(time.time(), seconds)},
        content_type="application/json",
    )
    return reply


async def test_each_request_is_answered_with_its_own_calculation_batched(
    broker: RabbitBroker, calculator: EchoCalculator
) -> None:
    bodies = [json.dumps({"household": {"n": n}}).encode() for n in range(5)]
    replies = await asyncio.gather(*(ask(broker, body) for body in bodies))
    assert [json.loads(reply.body) for reply in replies] == [
        {"status": 200, "household": {"n": n}, "model_version": "test"} for n in range(5)
    ]
    assert sum(calculator.batches) == 5 and max(calculator.batches) > 1, calculator.batches


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "Expecting value"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"household": {}, "policy": 3}', "policy must be an object"),
    ],
)
async def test_a_body_that_is_no_calculation_is_answered_422(
    broker: RabbitBroker, calculator: EchoCalculator, body: bytes, message: str
) -> None:
    reply = json.loads((await ask(broker, body)).body)
    assert reply["status"] == 422 and message in reply["errors"][0]["message"], reply
    assert calculator.batches == []


async def test_a_request_past_its_deadline_is_not_calculated_nor_answered(
    broker: RabbitBroker, calculator: EchoCalculator
) -> None:
    reply = await ask(broker, b'{"household": {}}', seconds=-0.01)
    assert reply.body == b""
    assert calculator.batches == []
