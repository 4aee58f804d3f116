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

Besides its event consumers, a process may consume two other kinds of queue, declared
here too: a feed of its own (`EventFeed`: a transient queue bound to a routing pattern,
for what the process follows now) and a request queue (`RequestQueue`: request/reply on
the default exchange). `EventConsumers.consumed` lists every queue a process consumes,
of all three kinds: the AsyncAPI document is generated from it (contracts/generate.py).
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractQueue
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
from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware
from faststream.rabbit.schemas.queue import QuorumQueueArgs

from contracts.envelope import CloudEvent
from shared.instrumentation import consume_telemetry
from shared.outages import ride_out
from shared.settings import Settings

log = logging.getLogger(__name__)

EventHandler = Callable[[CloudEvent], Awaitable[None]]
# What a process's feed does with each event it receives (the CloudEvent as JSON).
FeedReceiver = Callable[[dict[str, Any]], Awaitable[None]]
QueueKind = Literal["events", "feed", "requests"]


@dataclass(frozen=True)
class Consumer:
    """One event consumer: `handler` gets the events of `event_type` through the durable
    queue `queue` (whose name is also the handler's inbox name)."""

    queue: str
    event_type: str
    handler: EventHandler


@dataclass(frozen=True)
class ConsumedQueue:
    """A queue a process consumes, as the AsyncAPI document lists it.

    `routing_key` is the event type the queue is bound to (`events`), the pattern a
    process's own feed is bound to (`feed`: `queue` is then the prefix of each process's
    queue), or the queue's own name, published to on the default exchange (`requests`).
    `description` says what the messages hold when they are not events.
    """

    queue: str
    routing_key: str
    kind: QueueKind = "events"
    description: str = ""


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
        # FastStream's consumer span (continuing the publisher's trace), then message
        # counters and the request id, around every delivery.
        middlewares=[
            RabbitTelemetryMiddleware(),
            consume_telemetry(settings.delivery_limit),
            DeliveryFacts,
        ],
    )


def request_broker(amqp_url: str, *, prefetch: int | None = None) -> RabbitBroker:
    """A broker for a request queue (`RequestQueue`): with `prefetch`, the server's, which
    takes that many requests at once and requeues (counting it) one whose handler fails;
    without, the caller's, which publishes requests and reads its own reply queue.
    FastStream's telemetry middleware makes the producer and consumer spans; its
    per-message logs are at DEBUG (two lines per call would drown a process's log)."""
    options: dict[str, Any] = {}
    if prefetch is not None:
        options["default_channel"] = Channel(prefetch_count=prefetch)
        options["ack_policy"] = AckPolicy.NACK_ON_ERROR
    return RabbitBroker(
        amqp_url,
        logger=logging.getLogger("fiscus.broker"),
        log_level=logging.DEBUG,
        middlewares=[RabbitTelemetryMiddleware()],
        **options,
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


async def declare_consumer_queues(
    broker: RabbitBroker, settings: Settings, queues: Iterable[tuple[str, str]]
) -> None:
    """Declare and bind consumer queues `(queue, event_type)` and their dead-letter queues
    from a process that does not consume them: an event published before any of their
    consumers ever started is then kept, not dropped as unroutable."""
    exchange = await broker.declare_exchange(events_exchange(settings))
    dlx = await broker.declare_exchange(dead_letter_exchange(settings))
    for name, event_type in queues:
        queue = await broker.declare_queue(consumer_queue(settings, name, event_type))
        await queue.bind(exchange, routing_key=event_type)
        dlq = await broker.declare_queue(dead_letter_queue(name))
        await dlq.bind(dlx, routing_key=name)


class EventConsumers:
    """The event subscriptions of one process, declared together with their DLQs, and
    the record of every other queue the process consumes (a feed, a request queue)."""

    def __init__(self, broker: RabbitBroker, settings: Settings) -> None:
        self.broker = broker
        self._settings = settings
        self._queues: list[str] = []
        self._consumed: list[ConsumedQueue] = []

    def subscribe_all(self, consumers: Iterable[Consumer]) -> None:
        """Subscribe every consumer of a service's registration (handlers/consumers.py)."""
        for consumer in consumers:
            self.subscribe(consumer.queue, consumer.event_type, consumer.handler)

    def subscribe(self, queue: str, event_type: str, handler: EventHandler) -> None:
        """Deliver events of `event_type` to `handler` through the consumer queue `queue`."""
        self._queues.append(queue)
        self._consumed.append(ConsumedQueue(queue, event_type))
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

    def record(self, consumed: ConsumedQueue) -> None:
        """A queue the process consumes on a connection of its own (an `EventFeed`, a
        `RequestQueue`): listed with the event subscriptions, started by its owner."""
        self._consumed.append(consumed)

    @property
    def consumed(self) -> tuple[ConsumedQueue, ...]:
        """Every queue the process consumes, in order (the AsyncAPI document lists them)."""
        return tuple(self._consumed)

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


class EventFeed:
    """A process's own feed of the events whose routing key matches `pattern`.

    Its queue (`<prefix>.<random>`) is non-durable, exclusive and deleted with the
    connection, a connection of the feed's own: it serves only what the process follows
    now. Nothing is kept or retried: a message is acknowledged as it arrives, before
    `receive` runs.
    """

    def __init__(
        self,
        settings: Settings,
        prefix: str,
        pattern: str,
        receive: FeedReceiver,
        description: str = "",
    ) -> None:
        self.queue_name = f"{prefix}.{uuid.uuid4().hex[:12]}"
        # Listed under its prefix: every process has a queue of its own.
        self.consumed = ConsumedQueue(prefix, pattern, "feed", description)
        self._broker = make_broker(settings)
        self._settings = settings
        subscriber = self._broker.subscriber(
            RabbitQueue(
                self.queue_name,
                durable=False,
                exclusive=True,
                auto_delete=True,
                routing_key=pattern,
            ),
            events_exchange(settings),
            decoder=decode_cloudevent,
            ack_policy=AckPolicy.ACK_FIRST,
        )
        subscriber(receive)

    async def start(self) -> None:
        """Connect, bind the process's queue and start receiving."""
        await self._broker.connect()
        await self._broker.declare_exchange(events_exchange(self._settings))
        await self._broker.start()

    async def stop(self) -> None:
        await self._broker.stop()

    async def check(self) -> None:
        """Readiness: the broker answers."""
        if not await self._broker.ping(timeout=2):
            raise ConnectionError("broker does not answer")


@dataclass(frozen=True)
class DeadLettering:
    """Where a queue sends a message after `delivery_limit` failed deliveries."""

    exchange: str
    delivery_limit: int

    @classmethod
    def of(cls, settings: Settings) -> DeadLettering:
        return cls(settings.dead_letter_exchange, settings.delivery_limit)


class RequestQueue:
    """A queue of requests published to it directly (on the default exchange), each with
    `reply_to` and a correlation id: request/reply.

    It is a durable quorum queue with a delivery limit, like every consumer queue: a
    request whose deliveries keep failing goes to `<name>.dlq` instead of coming back
    forever. Callers and consumers both declare it, so that no request is unroutable.
    """

    def __init__(self, name: str, dead_lettering: DeadLettering, description: str = "") -> None:
        self.name = name
        self.dead_lettering = dead_lettering
        self.consumed = ConsumedQueue(name, name, "requests", description)

    async def declare(self, channel: AbstractChannel) -> AbstractQueue:
        """The queue and its dead-letter queue, declared on `channel`.

        A classic queue of an earlier version cannot become a quorum queue: once no process
        consumes from it, it is deleted and declared again (the requests waiting in it were
        answered as timed out by then, or soon are).
        """
        exchange = await channel.declare_exchange(
            self.dead_lettering.exchange, aio_pika.ExchangeType.DIRECT, durable=True
        )
        quorum: dict[str, Any] = {"x-queue-type": "quorum"}
        dead_letters = await channel.declare_queue(
            dead_letter_queue_name(self.name), durable=True, arguments=quorum
        )
        await dead_letters.bind(exchange, routing_key=self.name)
        arguments = {
            **quorum,
            **dead_letter_arguments(
                self.name, self.dead_lettering.exchange, self.dead_lettering.delivery_limit
            ),
        }
        for attempt in range(2):
            try:
                return await channel.declare_queue(self.name, durable=True, arguments=arguments)
            except aio_pika.exceptions.ChannelPreconditionFailed:
                await channel.reopen()
                if attempt == 0:
                    # Another process may have replaced it meanwhile: declare once more first.
                    continue
                log.warning("replacing the classic queue %s of an earlier version", self.name)
                # Only while nobody consumes from it: not a queue another process just made.
                await channel.queue_delete(self.name, if_unused=True)
        return await channel.declare_queue(self.name, durable=True, arguments=arguments)

    def rabbit_queue(self) -> RabbitQueue:
        """The queue for a FastStream subscriber, with the arguments `declare` gives it
        (declared by `declare_through` first)."""
        return RabbitQueue(
            self.name,
            queue_type=QueueType.QUORUM,
            durable=True,
            arguments=dead_letter_arguments(
                self.name, self.dead_lettering.exchange, self.dead_lettering.delivery_limit
            ),
        )

    async def declare_through(self, broker: RabbitBroker) -> None:
        """`declare` on a channel of `broker`'s connection (connecting it), before the
        broker's subscribers start: a classic queue of an earlier version is replaced first."""
        connection = await broker.connect()
        channel = await connection.channel()
        try:
            await self.declare(channel)
        finally:
            await channel.close()
