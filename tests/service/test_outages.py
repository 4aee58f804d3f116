"""A database that goes away and comes back, under a real service and a real consumer.

The service's database connections go through a TCP proxy that the test closes (the
database is down: connections refused and cut) or turns silent (it accepts and never
answers), and opens again. Requests meanwhile answer 503 problem+json quickly; the
service works again without a restart; a consumer holds its message and handles it
once the database is back, without using up a delivery attempt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from contracts.envelope import CloudEvent
from services.dataset.main import create_app
from services.webhooks.db.tables import metadata as webhooks_metadata
from shared.broker import EventConsumers, make_broker
from shared.db import Database, create_engine
from shared.problems import PROBLEM_JSON
from shared.settings import Settings
from tests.factories import bare_policy_event
from tests.service.bus import publish, queue_arguments
from tests.service.tcp_proxy import TcpProxy

PATH = "/api/v1/datasets"


def through(settings: Settings, port: int) -> Settings:
    """`settings` with the database reached on `port` and short outage bounds."""
    url = make_url(settings.database_url).set(port=port).render_as_string(hide_password=False)
    return settings.model_copy(update={"database_url": url, "db_connect_timeout_seconds": 1.0})


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dataset") as client:
            yield client


@asynccontextmanager
async def silent_server(port: int) -> AsyncIterator[None]:
    """Accepts connections on `port` and never answers: a database that hangs."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        for writer in held:
            writer.close()
        await server.wait_closed()


async def timed_get(client: httpx.AsyncClient) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = await client.get(PATH)
    return answer, time.monotonic() - started


def assert_unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_JSON)
    assert answer.headers["retry-after"] == "5"
    problem = answer.json()
    assert problem["status"] == 503
    assert problem["type"] == "urn:fiscus:problem:unavailable"


class DatabaseLine:
    """The line to the test database through a proxy on a port of its own: cut, restore."""

    def __init__(self, settings: Settings) -> None:
        self._proxy = TcpProxy(target_port=make_url(settings.database_url).port or 5432)
        self.port = 0

    async def open(self) -> None:
        await self._proxy.open()
        self.port = self._proxy.port

    async def cut(self) -> None:
        """Pooled connections cut, new ones refused."""
        await self._proxy.close()

    async def restore(self) -> None:
        self._proxy.port = self.port
        await self._proxy.open()


async def test_requests_during_a_database_outage_get_503_and_the_service_recovers(
    migrated: Settings,
) -> None:
    line = DatabaseLine(migrated)
    await line.open()
    try:
        async with running(create_app(through(migrated, line.port))) as client:
            assert (await client.get(PATH)).status_code == 200

            await line.cut()
            for _ in range(3):
                answer, seconds = await timed_get(client)
                assert_unavailable(answer)
                assert seconds < 3

            async with silent_server(line.port):  # hanging: connects, never answers
                answer, seconds = await timed_get(client)
                assert_unavailable(answer)
                # One connect timeout (1 s) and the pool's own, not a hang.
                assert seconds < 10

            await line.restore()  # back: the same process serves again
            answer, _ = await timed_get(client)
            assert answer.status_code == 200, answer.text
    finally:
        await line.cut()


async def test_a_consumer_holds_its_message_through_a_database_outage(
    migrated: Settings,
) -> None:
    """Handled once the database is back: one delivery, nothing dead-lettered."""
    line = DatabaseLine(migrated)
    await line.open()
    await line.cut()  # the database is down before the message arrives
    settings = through(migrated, line.port)
    database = Database(
        create_engine(settings.service_database_url("webhooks"), connect_timeout=1.0),
        webhooks_metadata,
    )
    calls: list[str] = []
    tried = asyncio.Event()
    handled = asyncio.Event()

    async def handler(event: CloudEvent) -> None:
        calls.append(event.id)
        if len(calls) >= 3:  # tried, and waiting for the database
            tried.set()
        async with database.unit_of_work() as uow:
            if await uow.first_delivery("tests.outage", event):
                await uow.commit()
        handled.set()

    consumers = EventConsumers(make_broker(migrated), migrated)
    consumers.subscribe("tests.outage", "policy.created", handler)
    await consumers.start()
    try:
        event = bare_policy_event("outage")
        await publish(migrated.amqp_url, event)
        await asyncio.wait_for(tried.wait(), timeout=30)
        assert not handled.is_set()
        await line.restore()
        await asyncio.wait_for(handled.wait(), timeout=30)
    finally:
        await consumers.stop()
        await line.cut()
        await database.engine.dispose()
    dead, _ = await queue_arguments(migrated, "tests.outage.dlq")
    waiting, _ = await queue_arguments(migrated, "tests.outage")
    assert (dead, waiting) == (0, 0)
    assert set(calls) == {event.id}
    engine = create_engine(migrated.service_database_url("webhooks"))
    try:
        async with engine.connect() as connection:
            recorded = await connection.scalar(
                sa.select(sa.func.count())
                .select_from(webhooks_metadata.tables["webhooks.inbox"])
                .where(webhooks_metadata.tables["webhooks.inbox"].c.event_id == event.id)
            )
    finally:
        await engine.dispose()
    assert recorded == 1
