"""The outbox relay: publishes committed outbox rows to RabbitMQ.

A row is marked sent only after the broker confirmed it. Events go out in the order they
were written (the outbox's `sequence`), those of one transaction included, so that a
consumer never sees a simulation's last progress after its completion: any number of
relays can run over one outbox, but one at a time (a transaction-scoped advisory lock
per outbox), each publishing its batch in sequence order. While
the broker is unreachable the relay keeps retrying with a capped backoff; events
wait in Postgres meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aio_pika
import sqlalchemy as sa
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from aio_pika.exceptions import DeliveryError
from opentelemetry import propagate
from opentelemetry.trace import SpanKind
from pamqp.commands import Basic

from shared.db import Database
from shared.metrics import MESSAGES_PUBLISHED, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE_SECONDS
from shared.tracing import context_from, tracer

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 5.0


class OutboxRelay:
    """Moves events from one service's outbox table to the events exchange."""

    def __init__(
        self,
        database: Database,
        amqp_url: str,
        exchange_name: str,
        *,
        poll_seconds: float = 0.2,
        batch_size: int = 100,
        linger_seconds: float = 0.0,
    ) -> None:
        self._database = database
        self._amqp_url = amqp_url
        self._exchange_name = exchange_name
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._linger_seconds = linger_seconds
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._wake = asyncio.Event()
        self._lock_name = f"fiscus.outbox.{database.outbox.schema}"

    def wake(self) -> None:
        """Ask the relay to look at the outbox now rather than at its next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set.

        Woken by a commit, the relay first lingers a moment, so that the events of
        requests arriving together go in one batch; a batch shorter than the batch size
        leaves the outbox empty as far as this relay sees, so it then sleeps until the
        next wake or poll (a wake during the batch is kept, not lost).
        """
        backoff = self._poll_seconds
        while not stop.is_set():
            self._wake.clear()
            try:
                sent = await self.relay_once()
                backoff = self._poll_seconds
                if sent >= self._batch_size:
                    continue
            except Exception as exc:  # the relay must outlive any broker or database fault
                log.warning("outbox relay failed, retrying: %s: %s", type(exc).__name__, exc)
                await self._disconnect()
                backoff = min(max(backoff * 2, 0.5), MAX_BACKOFF_SECONDS)
                self._wake.clear()  # a fault backs off, woken or not
            if await self._sleep(backoff, stop) and self._linger_seconds > 0:
                await asyncio.sleep(self._linger_seconds)
        await self._disconnect()

    async def relay_once(self) -> int:
        """Publish one batch of unsent rows; returns how many were confirmed."""
        outbox = self._database.outbox
        async with self._database.engine.connect() as connection, connection.begin():
            # Another relay of this outbox publishing now would interleave its batch with
            # this one's: wait for it to finish (its batch is then marked sent).
            await connection.execute(
                sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(self._lock_name)))
            )
            rows = (
                await connection.execute(
                    sa.select(outbox.c.id, outbox.c.event_type, outbox.c.envelope, outbox.c.headers)
                    .where(outbox.c.sent_at.is_(None))
                    .order_by(outbox.c.sequence)
                    .limit(self._batch_size)
                )
            ).all()
            if not rows:
                return 0
            exchange = await self._ensure_exchange()
            confirmed: list[str] = []
            failure: Exception | None = None
            for row in rows:
                try:
                    await self._publish(exchange, row.id, row.event_type, row.envelope, row.headers)
                except Exception as exc:
                    failure = exc
                    await connection.execute(
                        outbox.update()
                        .where(outbox.c.id == row.id)
                        .values(attempts=outbox.c.attempts + 1, last_error=str(exc)[:2000])
                    )
                    break
                confirmed.append(row.id)
            if confirmed:
                await connection.execute(
                    outbox.update().where(outbox.c.id.in_(confirmed)).values(sent_at=sa.func.now())
                )
        if failure is not None:
            raise failure
        return len(confirmed)

    async def _publish(
        self,
        exchange: AbstractExchange,
        event_id: str,
        event_type: str,
        envelope: dict[str, Any],
        headers: dict[str, Any],
    ) -> None:
        # A producer span in the trace the event was recorded in; the message carries it.
        with tracer().start_as_current_span(
            f"publish {event_type}",
            context=context_from(headers),
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "rabbitmq",
                "messaging.destination.name": self._exchange_name,
                "messaging.message.id": event_id,
                "cloudevents.event_type": event_type,
            },
        ):
            carried: dict[str, Any] = {**headers}
            propagate.inject(carried)
            message = aio_pika.Message(
                body=json.dumps(envelope, separators=(",", ":")).encode(),
                content_type="application/cloudevents+json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=event_id,
                type=event_type,
                headers=carried,
            )
            try:
                await exchange.publish(
                    message,
                    routing_key=event_type,
                    mandatory=True,
                    timeout=PUBLISH_TIMEOUT_SECONDS,
                )
            except DeliveryError as exc:
                if not isinstance(exc.frame, Basic.Return):
                    raise
                # Returned as unroutable: no queue is bound for this event type yet. The
                # broker accepted it; there is no subscriber to hold it for.
                log.info("event %s (%s) has no subscriber", event_id, event_type)
        MESSAGES_PUBLISHED.labels(event_type).inc()

    async def _ensure_exchange(self) -> AbstractExchange:
        if self._exchange is None or self._channel is None or self._channel.is_closed:
            self._connection = await aio_pika.connect(self._amqp_url, timeout=5)
            self._channel = await self._connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
            self._exchange = await self._channel.declare_exchange(
                self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
        return self._exchange

    async def close(self) -> None:
        """Close the broker connection (the relay reconnects when used again)."""
        await self._disconnect()

    async def _disconnect(self) -> None:
        connection, self._connection, self._channel, self._exchange = (
            self._connection,
            None,
            None,
            None,
        )
        if connection is not None and not connection.is_closed:
            try:
                await connection.close()
            except Exception as exc:
                log.debug("closing a broken connection failed: %s", exc)

    async def _sleep(self, seconds: float, stop: asyncio.Event) -> bool:
        """Wait `seconds`, until woken (at once if woken already) or stopped; whether woken."""
        if self._wake.is_set():
            return True
        waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())}
        _, pending = await asyncio.wait(
            waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        return self._wake.is_set() and not stop.is_set()


async def measure_outbox(database: Database, service: str) -> None:
    """Set the outbox backlog gauges of `service` from its outbox table."""
    outbox = database.outbox
    async with database.engine.connect() as connection:
        row = (
            await connection.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.coalesce(
                        sa.func.extract("epoch", sa.func.now() - sa.func.min(outbox.c.created_at)),
                        0,
                    ),
                ).where(outbox.c.sent_at.is_(None))
            )
        ).one()
    OUTBOX_BACKLOG.labels(service).set(row[0])
    OUTBOX_OLDEST_AGE_SECONDS.labels(service).set(float(row[1]))
