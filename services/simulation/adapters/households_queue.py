"""The `simulation.households` queue, shared by the API that calls it and the workers
that answer it: its name, dead-lettering and declaration, and a call's deadline header.

The queue is a quorum queue with a delivery limit, like every consumer queue: a
calculation whose deliveries keep failing (a household that takes down each worker that
tries it) goes to `simulation.households.dlq` instead of coming back forever. A call
carries its deadline (`x-fiscus-deadline-ms`, Unix milliseconds) rather than a message TTL,
which would dead-letter every call that timed out too: a worker drops a call nobody
waits for any more, unanswered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aio_pika

from shared.broker import dead_letter_arguments, dead_letter_queue_name
from shared.settings import Settings

log = logging.getLogger(__name__)

HOUSEHOLDS_QUEUE = "simulation.households"
HOUSEHOLDS_DEAD_LETTERS = dead_letter_queue_name(HOUSEHOLDS_QUEUE)
# Unix time in whole milliseconds: AMQP tables carry a Python float as a 32-bit one.
DEADLINE_HEADER = "x-fiscus-deadline-ms"


@dataclass(frozen=True)
class DeadLettering:
    """Where the queue sends a calculation after `delivery_limit` failed deliveries."""

    exchange: str
    delivery_limit: int

    @classmethod
    def of(cls, settings: Settings) -> DeadLettering:
        return cls(settings.dead_letter_exchange, settings.delivery_limit)


# The settings' defaults; processes pass their own (services/simulation/main.py).
DEFAULT_DEAD_LETTERING = DeadLettering.of(Settings.model_construct())


async def declare_households_queue(
    channel: aio_pika.abc.AbstractChannel, dead_lettering: DeadLettering = DEFAULT_DEAD_LETTERING
) -> Any:
    """The workers' queue and its dead-letter queue; the API declares them too, so that
    no request is ever unroutable.

    A classic queue of an earlier version cannot become a quorum queue: once no process
    consumes from it, it is deleted and declared again (the calls waiting in it were
    answered 504 by then, or soon are).
    """
    exchange = await channel.declare_exchange(
        dead_lettering.exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    quorum: dict[str, Any] = {"x-queue-type": "quorum"}
    dead_letters = await channel.declare_queue(
        HOUSEHOLDS_DEAD_LETTERS, durable=True, arguments=quorum
    )
    await dead_letters.bind(exchange, routing_key=HOUSEHOLDS_QUEUE)
    arguments = {
        **quorum,
        **dead_letter_arguments(
            HOUSEHOLDS_QUEUE, dead_lettering.exchange, dead_lettering.delivery_limit
        ),
    }
    for attempt in range(2):
        try:
            return await channel.declare_queue(HOUSEHOLDS_QUEUE, durable=True, arguments=arguments)
        except aio_pika.exceptions.ChannelPreconditionFailed:
            await channel.reopen()
            if attempt == 0:
                # Another process may have replaced it meanwhile: declare once more first.
                continue
            log.warning("replacing the classic households queue of an earlier version")
            # Only while nobody consumes from it: not a queue another process just made.
            await channel.queue_delete(HOUSEHOLDS_QUEUE, if_unused=True)
    return await channel.declare_queue(HOUSEHOLDS_QUEUE, durable=True, arguments=arguments)


def deadline_header(now: float, timeout_seconds: float) -> dict[str, int]:
    return {DEADLINE_HEADER: int((now + timeout_seconds) * 1000)}


def past_deadline(headers: Any, now: float) -> bool:
    """Whether a call's caller has stopped waiting for it (`now` in Unix seconds)."""
    deadline = (headers or {}).get(DEADLINE_HEADER)
    return isinstance(deadline, int) and now * 1000 > deadline
