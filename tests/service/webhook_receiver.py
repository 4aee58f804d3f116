"""A real HTTP server on 127.0.0.1 that receives webhooks and answers as a test says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    at: datetime
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b"ok"
    delay: float = 0.0


# Given the number of the request (1 for the first), how to answer it.
Behaviour = Callable[[int], Answer]


class Receiver:
    """Records every request; `url` is where it listens."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.received: list[Received] = []
        self._arrived = asyncio.Condition()
        self.url = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            _method, path, _version = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            async with self._arrived:
                self.received.append(Received(datetime.now(UTC), path, headers, body))
                number = len(self.received)
                self._arrived.notify_all()
            answer = self.behaviour(number)
            if answer.delay:
                await asyncio.sleep(answer.delay)
            reason = HTTPStatus(answer.status).phrase
            writer.write(
                f"HTTP/1.1 {answer.status} {reason}\r\n"
                f"content-length: {len(answer.body)}\r\n"
                "content-type: text/plain\r\nconnection: close\r\n\r\n".encode()
                + answer.body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """The first `count` requests, once they arrived; TimeoutError otherwise."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.received) >= count)
        return self.received[:count]


@asynccontextmanager
async def receiver(behaviour: Behaviour = lambda _n: Answer()) -> AsyncIterator[Receiver]:
    """A receiver listening on a free port of 127.0.0.1 while the block runs."""
    server_side = Receiver(behaviour)
    server = await asyncio.start_server(server_side.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server_side.url = f"http://127.0.0.1:{port}/hooks"
    try:
        yield server_side
    finally:
        server.close()
        await server.wait_closed()
