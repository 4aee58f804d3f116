"""Systems outside Fiscus, as they would meet it: a webhook receiver and a subscriber team."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aio_pika
import httpx


@dataclass
class WebhookInbox:
    """What a receiver at `url` was sent: (headers, body) per request.

    Once `secret` is set, the receiver checks each request's signature when it
    arrives, as a real receiver does (the signature's timestamp is only valid for a
    few minutes), and keeps the verified payload or the error in `verified`.
    """

    url: str = ""
    secret: str | None = None
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    verified: list[dict[str, Any] | Exception] = field(default_factory=list)
    refused: int = 0

    def receive(self, headers: dict[str, str], body: bytes) -> None:
        from standardwebhooks import Webhook

        try:
            if self.secret is None:
                raise ValueError("no secret to verify with yet")
            self.verified.append(Webhook(self.secret).verify(body, headers))
        except Exception as error:
            self.verified.append(error)
        self.requests.append((headers, body))

    def wait_for(self, count: int, timeout: float) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        return list(self.requests)


@contextmanager
def webhook_receiver(
    port: int = 0, status: Callable[[], int] = lambda: 204
) -> Iterator[WebhookInbox]:
    """A plain HTTP server on 127.0.0.1 (`port`, or any free one) that answers every POST
    with `status()`: 204 unless told otherwise. Requests answered 2xx land in the inbox;
    the others are only counted (`refused`), as a receiver that is not up to it."""
    inbox = WebhookInbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            code = status()
            if code < 300:
                inbox.receive({k.lower(): v for k, v in self.headers.items()}, body)
            else:
                inbox.refused += 1
            self.send_response(code)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    inbox.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/fiscus"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield inbox
    finally:
        server.shutdown()
        server.server_close()


class SubscriberQueue:
    """Another team's own durable queue on `fiscus.events`, in plain aio-pika."""

    def __init__(self, amqp_url: str, name: str, routing_keys: tuple[str, ...]) -> None:
        self._amqp_url = amqp_url
        self._name = name
        self._routing_keys = routing_keys

    def declare(self) -> None:
        asyncio.run(self._declare())

    def read_all(self, timeout: float) -> list[bytes]:
        return asyncio.run(self._read_all(timeout))

    def delete(self) -> None:
        asyncio.run(self._delete())

    async def _declare(self) -> None:
        async with await aio_pika.connect(self._amqp_url) as connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(
                "fiscus.events", aio_pika.ExchangeType.TOPIC, durable=True
            )
            queue = await channel.declare_queue(
                self._name, durable=True, arguments={"x-queue-type": "quorum"}
            )
            await queue.purge()
            for key in self._routing_keys:
                await queue.bind(exchange, routing_key=key)

    async def _read_all(self, timeout: float) -> list[bytes]:
        bodies: list[bytes] = []
        async with await aio_pika.connect(self._amqp_url) as connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(self._name, passive=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                message = await queue.get(fail=False)
                if message is None:
                    if bodies:
                        break
                    await asyncio.sleep(0.2)
                    continue
                bodies.append(message.body)
                await message.ack()
        return bodies

    async def _delete(self) -> None:
        async with await aio_pika.connect(self._amqp_url) as connection:
            channel = await connection.channel()
            await channel.queue_delete(self._name)


def delete_webhook_endpoint(gateway_url: str, key: str, endpoint_id: str) -> None:
    """Delete an endpoint whose receiver is going away, so that the simulations of later
    tests on the same stack are not delivered (and retried) to a closed port."""
    headers = {"Authorization": f"Bearer {key}"}
    url = f"{gateway_url}/api/v1/webhooks/{endpoint_id}"
    current = httpx.get(url, headers=headers, timeout=30)
    assert current.status_code == 200, current.text
    answer = httpx.delete(url, headers={**headers, "If-Match": current.headers["etag"]})
    assert answer.status_code == 204, answer.text
