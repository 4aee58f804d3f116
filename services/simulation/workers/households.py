"""The households worker: household calculations over RabbitMQ request/reply, micro-batched.

The simulation API publishes each calculation to the queue `simulation.households`
with a `reply_to` queue and a correlation id. A worker subscribes to it (FastStream)
only once its engine is warm. Its handler waits in the batcher, which gathers the
calculations that arrive within `household_batch_ms` of the first (at most
`household_batch_max`), calculates them together (one simulation per policy and
compatible households, see domain/households.py) in a thread, and hands each its
outcome; the handler returns the reply, which FastStream publishes to the request's
`reply_to` with the same correlation id before acknowledging the request. A worker
that dies with unacknowledged messages leaves them to another worker; a handler that
fails has its message requeued; either way the quorum queue counts the delivery and
dead-letters the message after its delivery limit. A calculation answered before (the
same household, variables, policy and model version) is answered from the worker's kept
answers (`adapters.household_answers`) without calculating.

A reply is JSON: `{"status": 200, "household": {...}, "model_version": "..."}` or
`{"status": 422 | 500, "errors": [{"field": ..., "message": ...}]}`.

The queue, its dead-lettering and a call's deadline are `adapters.households_queue`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Protocol

from faststream.exceptions import AckMessage
from faststream.rabbit import RabbitMessage, RabbitResponse
from opentelemetry.trace import SpanKind

from services.simulation.adapters.household_answers import HouseholdAnswers, answer_key
from services.simulation.adapters.households_queue import (
    DEFAULT_DEAD_LETTERING,
    HOUSEHOLDS_QUEUE,
    households_queue,
    message_body,
    past_deadline,
)
from services.simulation.adapters.warm_engine import WarmEngine
from services.simulation.domain.household_engine import HouseholdOutcome, HouseholdRequest
from services.simulation.domain.households import InvalidField
from services.simulation.domain.systems import reform_hash
from shared.broker import ConsumedQueue, DeadLettering, request_broker
from shared.metrics import HOUSEHOLD_ANSWERS, HOUSEHOLD_BATCH_SECONDS, HOUSEHOLD_BATCH_SIZE
from shared.tracing import context_from, tracer

log = logging.getLogger(__name__)

Reform = dict[str, dict[str, Any]]


class HouseholdCalculator(Protocol):
    """What the worker needs of domain.household_engine.HouseholdEngine."""

    @property
    def model_version(self) -> str: ...

    def calculate(
        self, requests: list[HouseholdRequest], policy: Reform | None
    ) -> list[HouseholdOutcome]: ...


@dataclass
class PendingCalculation:
    request: HouseholdRequest
    policy: Reform | None
    arrived: float
    answer: asyncio.Future[HouseholdOutcome]


class HouseholdBatcher:
    """Gathers calculations for a few milliseconds and runs them as one batch."""

    def __init__(
        self,
        engine: WarmEngine[HouseholdCalculator],
        window_seconds: float,
        max_batch: int,
        answers: HouseholdAnswers | None = None,
    ) -> None:
        self._engine = engine
        self._answers = answers if answers is not None else HouseholdAnswers(0)
        self._window = window_seconds
        self._max_batch = max(1, max_batch)
        self._queue: asyncio.Queue[PendingCalculation] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="household-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def calculate(self, request: HouseholdRequest, policy: Reform | None) -> HouseholdOutcome:
        engine = await self._engine.get()
        # Keyed before calculating: the engine may change the request's household.
        key = answer_key(request.household, request.variables, policy, engine.model_version)
        kept = self._answers.get(key)
        if kept is not None:
            HOUSEHOLD_ANSWERS.labels("kept").inc()
            return HouseholdOutcome(household=kept)
        loop = asyncio.get_running_loop()
        pending = PendingCalculation(request, policy, loop.time(), loop.create_future())
        self._queue.put_nowait(pending)
        outcome = await pending.answer
        HOUSEHOLD_ANSWERS.labels("calculated").inc()
        if outcome.household is not None:
            self._answers.put(key, outcome.household)
        return outcome

    async def _run(self) -> None:
        while True:
            batch = await self._next_batch()
            try:
                await self._calculate(batch)
            except Exception as exc:
                log.exception("a household batch failed")
                failure = HouseholdOutcome(
                    errors=[InvalidField("household", f"{type(exc).__name__}: {exc}")], status=500
                )
                for pending in batch:
                    if not pending.answer.done():
                        pending.answer.set_result(failure)

    async def _next_batch(self) -> list[PendingCalculation]:
        loop = asyncio.get_running_loop()
        batch = [await self._queue.get()]
        # Calculations that waited while the previous batch ran join at once.
        deadline = batch[0].arrived + self._window
        while len(batch) < self._max_batch:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _calculate(self, batch: list[PendingCalculation]) -> None:
        engine = await self._engine.get()
        by_policy: dict[str, list[PendingCalculation]] = defaultdict(list)
        for pending in batch:
            by_policy[reform_hash(pending.policy or None)].append(pending)
        for group in by_policy.values():
            started = time.perf_counter()
            outcomes = await asyncio.to_thread(
                engine.calculate, [p.request for p in group], group[0].policy
            )
            seconds = time.perf_counter() - started
            HOUSEHOLD_BATCH_SIZE.observe(len(group))
            HOUSEHOLD_BATCH_SECONDS.observe(seconds)
            log.info(
                "households calculated",
                extra={"households": len(group), "seconds": round(seconds, 3)},
            )
            for pending, outcome in zip(group, outcomes, strict=True):
                if not pending.answer.done():
                    pending.answer.set_result(outcome)


def reply_of(outcome: HouseholdOutcome, model_version: str) -> dict[str, Any]:
    if outcome.household is not None:
        return {"status": 200, "household": outcome.household, "model_version": model_version}
    return {
        "status": outcome.status,
        "errors": [{"field": e.field, "message": e.message} for e in outcome.errors],
    }


def request_of(body: bytes) -> tuple[HouseholdRequest, Reform | None]:
    """The calculation a message asks for; ValueError if it is not one."""
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("a household calculation message must be a JSON object")
    variables = data.get("variables")
    policy = data.get("policy")
    if variables is not None and not isinstance(variables, list):
        raise ValueError("variables must be a list")
    if policy is not None and not isinstance(policy, dict):
        raise ValueError("policy must be an object")
    return HouseholdRequest(household=data.get("household"), variables=variables), policy


class HouseholdServer:
    """A FastStream subscriber on `simulation.households`, started once the engine is warm:
    it answers each request with what its handler returns (FastStream publishes it to the
    request's `reply_to`, with its correlation id), then acknowledges it."""

    def __init__(
        self,
        amqp_url: str,
        engine: WarmEngine[HouseholdCalculator],
        batcher: HouseholdBatcher,
        prefetch: int,
        dead_lettering: DeadLettering = DEFAULT_DEAD_LETTERING,
    ) -> None:
        self._queue = households_queue(dead_lettering)
        self._engine = engine
        self._batcher = batcher
        # Deliveries are handled concurrently, up to `prefetch`: they wait in the batcher
        # together. A handler that fails has its message requeued, its delivery counted.
        self.broker = request_broker(amqp_url, prefetch=prefetch)
        self.broker.subscriber(
            self._queue.rabbit_queue(),
            decoder=message_body,
        )(self.answer)
        self._consuming = False
        self._start_task: asyncio.Task[None] | None = None

    @property
    def consumed(self) -> ConsumedQueue:
        """The queue the server consumes, as the process lists it (shared.broker)."""
        return self._queue.consumed

    async def start(self) -> None:
        """Start consuming as soon as the engine is warm (in the background)."""
        self._start_task = asyncio.create_task(self._consume(), name="households-consume")

    async def _consume(self) -> None:
        await self._engine.get()
        self._batcher.start()
        await self._queue.declare_through(self.broker)
        await self.broker.start()
        self._consuming = True
        log.info("consuming household calculations", extra={"queue": HOUSEHOLDS_QUEUE})

    async def check(self) -> None:
        if not self._consuming:
            raise RuntimeError("not consuming household calculations yet")

    async def stop(self) -> None:
        """Stop taking requests, answer those being calculated (FastStream waits for its
        handlers, up to its graceful timeout), then close; what is left unacknowledged
        goes back to the queue for another worker."""
        self._consuming = False
        if self._start_task is not None:
            self._start_task.cancel()
            await asyncio.gather(self._start_task, return_exceptions=True)
        await self.broker.stop()
        await self._batcher.stop()

    async def answer(self, body: bytes, message: RabbitMessage) -> RabbitResponse:
        """The reply to one request; a request past its deadline is acknowledged unanswered."""
        if past_deadline(message.headers, time.time()):
            HOUSEHOLD_ANSWERS.labels("expired").inc()
            raise AckMessage()
        engine = await self._engine.get()
        # A span in the caller's trace (its context travels in the message headers).
        with tracer().start_as_current_span(
            "calculate household",
            context=context_from(message.headers),
            kind=SpanKind.CONSUMER,
        ):
            try:
                request, policy = request_of(body)
            except ValueError as exc:
                reply = {"status": 422, "errors": [{"field": "body", "message": str(exc)}]}
            else:
                outcome = await self._batcher.calculate(request, policy)
                reply = reply_of(outcome, engine.model_version)
        # Not mandatory: a caller that has gone has taken its reply queue with it.
        return RabbitResponse(
            json.dumps(reply).encode(), content_type="application/json", mandatory=False
        )
