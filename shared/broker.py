"""The RabbitMQ broker with Fiscus's safe defaults.

One durable topic exchange carries every event, routed by event type. Each consumer
owns a durable quorum queue named `<service>.<purpose>` with an explicit delivery
limit; a message that keeps failing is dead-lettered to `<queue>.dlq`. A handler's
message is acknowledged only after the handler returned, that is after its unit of
work committed; on an exception it is requeued and its delivery counted. While a
dependency is unreachable, the handler is retried in place instead (shared.outages),
so that an outage does not use up the message's attempts.

A handler may ask `redelivered()`: whether the broker delivered this message before,
to a consumer that did not acknowledge it (it crashed, or its handler failed). A second
copy of an event, published again by an outbox relay that stopped between publishing
and marking it sent, is a first delivery of its own.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from faststream import AckPolicy, BaseMiddleware
from faststream.message import StreamMessage
from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitMessage,
    RabbitQueue,
)
from faststream.rabbit.schemas.queue import QuorumQueueArgs

from contracts.envelope import CloudEvent
from shared.instrumentation import consume_telemetry
from shared.outages import ride_out
from shared.settings import Settings

log = logging.getLogger(__name__)

EventHandler = Callable[[CloudEvent], Awaitable[None]]

_redelivered: ContextVar[bool] = ContextVar("redelivered", default=False)


def redelivered() -> bool:
    """Whether the message being handled was delivered before and not acknowledged."""
    return _redelivered.get()


class DeliveryFacts(BaseMiddleware):
    """Broker middleware: makes `redelivered()` answer for the message being handled."""

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        token = _redelivered.set(bool(getattr(msg.raw_message, "redelivered", False)))
        try:
            return await call_next(msg)
        finally:
            _redelivered.reset(token)


def events_exchange(settings: Settings) -> RabbitExchange:
    return RabbitExchange(settings.events_exchange, type=ExchangeType.TOPIC, durable=True)


def dead_letter_exchange(settings: Settings) -> RabbitExchange:
    return RabbitExchange(settings.dead_letter_exchange, type=ExchangeType.DIRECT, durable=True)


def make_broker(settings: Settings) -> RabbitBroker:
    return RabbitBroker(
        settings.amqp_url,
        default_channel=Channel(prefetch_count=settings.prefetch, publisher_confirms=True),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        logger=logging.getLogger("fiscus.broker"),
        # A consumer span and message counters around every delivery.
        middlewares=[consume_telemetry(settings.delivery_limit), DeliveryFacts],
    )


def consumer_queue(settings: Settings, name: str, event_type: str) -> RabbitQueue:
    """A consumer's durable quorum queue bound to one event type."""
    return RabbitQueue(
        name,
        queue_type=QueueType.QUORUM,
        durable=True,
        routing_key=event_type,
        arguments=dead_letter_arguments(
            name, settings.dead_letter_exchange, settings.delivery_limit
        ),
    )


def dead_letter_arguments(name: str, exchange: str, delivery_limit: int) -> QuorumQueueArgs:
    """A quorum queue's arguments that send a message to `exchange`, under the queue's
    name, once it has failed `delivery_limit` deliveries."""
    return {
        "x-dead-letter-exchange": exchange,
        "x-dead-letter-routing-key": name,
        "x-delivery-limit": delivery_limit,
    }


def dead_letter_queue_name(name: str) -> str:
    return f"{name}.dlq"


def dead_letter_queue(name: str) -> RabbitQueue:
    return RabbitQueue(
        dead_letter_queue_name(name), queue_type=QueueType.QUORUM, durable=True, routing_key=name
    )


async def decode_cloudevent(message: RabbitMessage) -> Any:
    """Decode a body as JSON whatever its content type (CloudEvents use their own)."""
    return json.loads(message.body)


class EventConsumers:
    """The event subscriptions of one process, declared together with their DLQs."""

    def __init__(self, broker: RabbitBroker, settings: Settings) -> None:
        self.broker = broker
        self._settings = settings
        self._queues: list[str] = []
        self._subscriptions: list[tuple[str, str]] = []

    def subscribe(self, queue: str, event_type: str, handler: EventHandler) -> None:
        """Deliver events of `event_type` to `handler` through the consumer queue `queue`."""
        self._queues.append(queue)
        self._subscriptions.append((queue, event_type))
        patience = self._settings.outage_patience_seconds

        @functools.wraps(handler)  # the handler's name in logs and the AsyncAPI document
        async def patient(event: CloudEvent) -> None:
            await ride_out(lambda: handler(event), what=queue, patience_seconds=patience)

        subscriber = self.broker.subscriber(
            consumer_queue(self._settings, queue, event_type),
            events_exchange(self._settings),
            decoder=decode_cloudevent,
            ack_policy=AckPolicy.NACK_ON_ERROR,
        )
        subscriber(patient)

    @property
    def queues(self) -> tuple[str, ...]:
        return tuple(self._queues)

    @property
    def subscriptions(self) -> tuple[tuple[str, str], ...]:
        """Every `(queue, event_type)` subscribed, in order (the AsyncAPI document lists them)."""
        return tuple(self._subscriptions)

    async def start(self) -> None:
        """Connect, declare the dead-letter queues, then start consuming."""
        await self.broker.connect()
        dlx = await self.broker.declare_exchange(dead_letter_exchange(self._settings))
        for name in self._queues:
            dlq = await self.broker.declare_queue(dead_letter_queue(name))
            await dlq.bind(dlx, routing_key=name)
        await self.broker.declare_exchange(events_exchange(self._settings))
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()
