"""The API's side of household calculations: request/reply over RabbitMQ, with FastStream.

One FastStream broker (one connection) per API process, with a reply queue of its own
(exclusive, gone with the connection, declared again when it reconnects) that a
subscriber reads. Each call publishes to `simulation.households` with `reply_to` that
queue and a fresh correlation id, and waits for the reply with that id: FastStream's
reply-to pattern for a lasting request/reply flow. Not `broker.request()`: it waits on
RabbitMQ's direct reply-to, where FastStream lets one request at a time through per
broker (its replies are not matched by id), so concurrent calls would reach the workers
one after another and never be batched.

Calls run concurrently (the workers batch them); a call not answered in time fails with
504, and a worker that takes it later drops it (its `x-fiscus-deadline-ms` has passed).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any

import aio_pika
from faststream import AckPolicy
from faststream.rabbit import RabbitMessage, RabbitQueue

from services.simulation.adapters.households_queue import (
    DEFAULT_DEAD_LETTERING,
    HOUSEHOLDS_QUEUE,
    deadline_header,
    households_queue,
    message_body,
)
from shared.broker import DeadLettering, request_broker
from shared.problems import ProblemError
from shared.tracing import propagation_headers

log = logging.getLogger(__name__)

# What a publish raises while the broker is unreachable, or the connection is coming back.
BROKER_ERRORS = (aio_pika.exceptions.AMQPError, aio_pika.exceptions.ChannelInvalidStateError)


class HouseholdCalls:
    """Calls the households workers; start() before the first call, stop() at the end."""

    def __init__(
        self,
        amqp_url: str,
        timeout_seconds: float,
        dead_lettering: DeadLettering = DEFAULT_DEAD_LETTERING,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self._queue = households_queue(dead_lettering)
        self._replies = f"{HOUSEHOLDS_QUEUE}.replies.{uuid.uuid4().hex[:12]}"
        self._broker = request_broker(amqp_url)
        self._broker.subscriber(
            RabbitQueue(self._replies, durable=False, exclusive=True, auto_delete=True),
            decoder=message_body,
            # A reply is taken as it arrives: nobody else could answer it.
            ack_policy=AckPolicy.ACK_FIRST,
            no_reply=True,
            include_in_schema=False,
        )(self._on_reply)
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._started = False

    async def start(self) -> None:
        """Connect, declare the workers' queue (no request is ever unroutable), then read
        replies."""
        await self._queue.declare_through(self._broker)
        await self._broker.start()
        self._started = True

    async def stop(self) -> None:
        self._started = False
        for answer in self._pending.values():
            answer.cancel()
        await self._broker.stop()

    async def check(self) -> None:
        """Readiness: connected to the broker."""
        if not self._started or not await self._broker.ping(timeout=2):
            raise ConnectionError("not connected to the broker")

    async def call(self, body: dict[str, Any]) -> dict[str, Any]:
        """The worker's reply to `body`; ProblemError 503 or 504 when there is none."""
        if not self._started:
            raise ProblemError(
                503,
                "Service Unavailable",
                "household calculations are starting",
                kind="unavailable",
            )
        correlation_id = uuid.uuid4().hex
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = answer
        try:
            await self._broker.publish(
                json.dumps(body).encode(),
                routing_key=HOUSEHOLDS_QUEUE,
                reply_to=self._replies,
                correlation_id=correlation_id,
                content_type="application/json",
                # Not calculated at all once nobody waits for it any more.
                headers={
                    **propagation_headers(),
                    **deadline_header(time.time(), self.timeout_seconds),
                },
            )
            return await asyncio.wait_for(answer, self.timeout_seconds)
        except TimeoutError as exc:
            raise ProblemError(
                504,
                "Gateway Timeout",
                f"no household worker answered within {self.timeout_seconds:g} s",
                kind="timeout",
            ) from exc
        except BROKER_ERRORS as exc:
            raise ProblemError(
                503,
                "Service Unavailable",
                "the message broker is unreachable; try again shortly",
                kind="unavailable",
            ) from exc
        finally:
            self._pending.pop(correlation_id, None)

    async def _on_reply(self, body: bytes, message: RabbitMessage) -> None:
        answer = self._pending.get(message.correlation_id)
        if answer is None or answer.done():
            log.info("a household reply nobody waits for", extra={"id": message.correlation_id})
            return
        try:
            answer.set_result(json.loads(body))
        except ValueError as exc:
            answer.set_exception(exc)
