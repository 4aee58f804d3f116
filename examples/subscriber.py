"""Subscribe to Fiscus events with nothing but aio-pika.

    python examples/subscriber.py --queue myteam.fiscus simulation.completed 'report.*'

Declares a durable quorum queue of your own bound to the `fiscus.events` topic
exchange with the given routing keys (event types; `*` and `#` patterns work), and a
dead-letter queue `<queue>.dlq` for events your handler cannot take. Each event is
printed as one line of CloudEvents JSON on stdout and acknowledged only after it was
handled. Uses no Fiscus code: copy it as a starting point.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Sequence
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

EXCHANGE = "fiscus.events"
# After this many failed deliveries RabbitMQ moves a message to the dead-letter queue.
DELIVERY_LIMIT = 5


class UnreadableEvent(Exception):
    """The message is not a CloudEvent in structured JSON: retrying cannot help."""


def read_event(message: AbstractIncomingMessage) -> dict[str, Any]:
    try:
        event = json.loads(message.body)
    except ValueError as error:
        raise UnreadableEvent(f"not JSON: {error}") from error
    if not isinstance(event, dict) or event.get("specversion") != "1.0" or "type" not in event:
        raise UnreadableEvent("not a CloudEvents 1.0 event")
    return event


async def handle(event: dict[str, Any], traceparent: str | None) -> None:
    """Your code goes here. Fiscus may deliver an event twice: deduplicate on `id`.

    Read only the fields you need and ignore the others: new optional fields may appear
    in any version; `dataschema` names the version (urn:fiscus:schema:<type>:v<N>).
    """
    print(json.dumps(event, separators=(",", ":")), flush=True)
    if traceparent:
        print(f"  traceparent {traceparent}", file=sys.stderr, flush=True)


async def subscribe(
    amqp_url: str, queue_name: str, routing_keys: Sequence[str], max_events: int
) -> None:
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=10)
        # Declared with Fiscus's own arguments: declaring an existing exchange is a no-op.
        exchange = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        dead_letters = await channel.declare_queue(
            f"{queue_name}.dlq", durable=True, arguments={"x-queue-type": "quorum"}
        )
        queue = await channel.declare_queue(
            queue_name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": DELIVERY_LIMIT,
                # The default exchange routes by queue name: rejected messages go to the DLQ.
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": dead_letters.name,
            },
        )
        for routing_key in routing_keys:
            await queue.bind(exchange, routing_key=routing_key)
        print(
            f"listening on {queue_name} for {', '.join(routing_keys)}", file=sys.stderr, flush=True
        )

        handled = 0
        async with queue.iterator() as messages:
            async for message in messages:
                try:
                    event = read_event(message)
                except UnreadableEvent as error:
                    print(f"dead-lettering message {message.message_id}: {error}", file=sys.stderr)
                    await message.reject(requeue=False)
                    continue
                try:
                    traceparent = (message.headers or {}).get("traceparent")
                    await handle(event, str(traceparent) if traceparent else None)
                except Exception as error:
                    # Requeued and counted: after DELIVERY_LIMIT attempts it lands in the DLQ.
                    print(f"handling {event.get('id')} failed: {error!r}", file=sys.stderr)
                    await message.nack(requeue=True)
                    continue
                await message.ack()
                handled += 1
                if max_events and handled >= max_events:
                    return


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Print Fiscus events from a queue of your own.")
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument(
        "--queue", required=True, help="your queue's name, e.g. myteam.fiscus-events"
    )
    parser.add_argument(
        "--max-events", type=int, default=0, help="exit after this many events (0: never)"
    )
    parser.add_argument(
        "routing_keys",
        nargs="*",
        default=["#"],
        metavar="ROUTING_KEY",
        help="event types to receive, e.g. simulation.completed or 'simulation.*' (default: all)",
    )
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(subscribe(args.amqp_url, args.queue, args.routing_keys, args.max_events))


if __name__ == "__main__":
    main()
