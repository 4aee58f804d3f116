"""The API's side of household calculations: request/reply over RabbitMQ.

One connection and one exclusive reply queue per API process; each call publishes
to `simulation.households` with `reply_to` that queue and a fresh correlation id,
and waits for the reply with that id. Calls run concurrently (the workers batch
them); a call not answered in time fails with 504, and a worker that takes it later
drops it (its `x-fiscus-deadline` has passed).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from services.simulation.adapters.households_queue import (
    DEFAULT_DEAD_LETTERING,
    HOUSEHOLDS_QUEUE,
    deadline_header,
    households_queue,
)
from shared.broker import DeadLettering
from shared.problems import ProblemError
from shared.tracing import propagation_headers

log = logging.getLogger(__name__)


class HouseholdCalls:
    """Calls the households workers; start() before the first call, stop() at the end."""

    def __init__(
        self,
        amqp_url: str,
        timeout_seconds: float,
        dead_lettering: DeadLettering = DEFAULT_DEAD_LETTERING,
    ) -> None:
        self._amqp_url = amqp_url
        self.timeout_seconds = timeout_seconds
        self._queue = households_queue(dead_lettering)
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._replies: AbstractQueue | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self._amqp_url)
        self._channel = await self._connection.channel()
        await self._queue.declare(self._channel)
        self._replies = await self._channel.declare_queue(exclusive=True, auto_delete=True)
        await self._replies.consume(self._on_reply, no_ack=True)

    async def stop(self) -> None:
        for answer in self._pending.values():
            answer.cancel()
        if self._connection is not None:
            await self._connection.close()

    async def check(self) -> None:
        """Readiness: connected to the broker."""
        if self._connection is None or self._connection.is_closed:
            raise ConnectionError("not connected to the broker")

    async def call(self, body: dict[str, Any]) -> dict[str, Any]:
        """The worker's reply to `body`; ProblemError 503 or 504 when there is none."""
        if self._channel is None or self._replies is None:
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
            await self._channel.default_exchange.publish(
                aio_pika.Message(
                    json.dumps(body).encode(),
                    content_type="application/json",
                    correlation_id=correlation_id,
                    reply_to=self._replies.name,
                    # Not calculated at all once nobody waits for it any more.
                    headers={
                        **propagation_headers(),
                        **deadline_header(time.time(), self.timeout_seconds),
                    },
                ),
                routing_key=HOUSEHOLDS_QUEUE,
            )
            return await asyncio.wait_for(answer, self.timeout_seconds)
        except TimeoutError as exc:
            raise ProblemError(
                504,
                "Gateway Timeout",
                f"no household worker answered within {self.timeout_seconds:g} s",
                kind="timeout",
            ) from exc
        except aio_pika.exceptions.AMQPError as exc:
            raise ProblemError(
                503,
                "Service Unavailable",
                "the message broker is unreachable; try again shortly",
                kind="unavailable",
            ) from exc
        finally:
            self._pending.pop(correlation_id, None)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        answer = self._pending.get(message.correlation_id or "")
        if answer is None or answer.done():
            log.info("a household reply nobody waits for", extra={"id": message.correlation_id})
            return
        try:
            answer.set_result(json.loads(message.body))
        except ValueError as exc:
            answer.set_exception(exc)
