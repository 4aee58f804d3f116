"""The `simulation.households` queue, shared by the API that calls it and the workers
that answer it: its name, its declaration (a `shared.broker.RequestQueue`), a call's
deadline header, and the decoder both sides' FastStream subscribers read bodies with.

The queue is a quorum queue with a delivery limit, like every consumer queue: a
calculation whose deliveries keep failing (a household that takes down each worker that
tries it) goes to `simulation.households.dlq` instead of coming back forever. A call
carries its deadline (`x-fiscus-deadline-ms`, Unix milliseconds) rather than a message TTL,
which would dead-letter every call that timed out too: a worker drops a call nobody
waits for any more, unanswered.
"""

from __future__ import annotations

from typing import Any

from aio_pika.abc import AbstractChannel, AbstractQueue
from faststream.rabbit import RabbitMessage

from shared.broker import DeadLettering, RequestQueue, dead_letter_queue_name
from shared.settings import Settings

HOUSEHOLDS_QUEUE = "simulation.households"
HOUSEHOLDS_DEAD_LETTERS = dead_letter_queue_name(HOUSEHOLDS_QUEUE)
# Unix time in whole milliseconds: AMQP tables carry a Python float as a 32-bit one.
DEADLINE_HEADER = "x-fiscus-deadline-ms"

# What the AsyncAPI document says the queue's messages hold.
DESCRIPTION = (
    "Household calculations. A request is JSON `{household, variables?, policy?}` with "
    f"`reply_to`, a correlation id and the header `{DEADLINE_HEADER}` (Unix milliseconds; "
    "a worker drops a call past it, unanswered). The reply, on `reply_to` with the same "
    'correlation id, is JSON `{"status": 200, "household": {...}, "model_version": ...}` '
    'or `{"status": 422 | 500, "errors": [{"field": ..., "message": ...}]}`.'
)

# The settings' defaults; processes pass their own (services/simulation/main.py).
DEFAULT_DEAD_LETTERING = DeadLettering.of(Settings.model_construct())


def households_queue(dead_lettering: DeadLettering = DEFAULT_DEAD_LETTERING) -> RequestQueue:
    return RequestQueue(HOUSEHOLDS_QUEUE, dead_lettering, DESCRIPTION)


async def declare_households_queue(
    channel: AbstractChannel, dead_lettering: DeadLettering = DEFAULT_DEAD_LETTERING
) -> AbstractQueue:
    """The workers' queue and its dead-letter queue; the API declares them too, so that
    no request is ever unroutable."""
    return await households_queue(dead_lettering).declare(channel)


def deadline_header(now: float, timeout_seconds: float) -> dict[str, int]:
    return {DEADLINE_HEADER: int((now + timeout_seconds) * 1000)}


def past_deadline(headers: Any, now: float) -> bool:
    """Whether a call's caller has stopped waiting for it (`now` in Unix seconds)."""
    deadline = (headers or {}).get(DEADLINE_HEADER)
    return isinstance(deadline, int) and now * 1000 > deadline


async def message_body(message: RabbitMessage) -> bytes:
    """A FastStream decoder that leaves the body as it came: the handler parses it, so that
    a body that is not JSON is answered (422, or an error to the caller) rather than
    failing the delivery until it is dead-lettered."""
    return message.body
