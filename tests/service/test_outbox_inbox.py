"""The transactional outbox and the inbox, on the real Postgres and RabbitMQ."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from contracts.envelope import CloudEvent
from contracts.events.policy.v1 import PolicyCreated
from services.webhooks.db.tables import metadata
from shared.db import Database, create_engine
from shared.outbox import OutboxRelay
from shared.settings import Settings
from tests.service.bus import event_tap
from tests.service.tcp_proxy import TcpProxy


@pytest.fixture
async def database(migrated: Settings) -> AsyncIterator[Database]:
    # The webhooks service's outbox and inbox, emptied: no relay of its runs in these tests.
    database = Database(create_engine(migrated.service_database_url("webhooks")), metadata)
    async with database.engine.begin() as connection:
        await connection.execute(database.outbox.delete())
        await connection.execute(database.inbox.delete())
    yield database
    await database.engine.dispose()


def policy_event(name: str) -> CloudEvent:
    payload = PolicyCreated(policy_id=name, name=name, sha256="0" * 64, data={})
    return CloudEvent.wrap(payload, source="/tests", subject=name)


async def unsent(database: Database) -> int:
    async with database.engine.connect() as connection:
        count = await connection.scalar(
            sa.select(sa.func.count())
            .select_from(database.outbox)
            .where(database.outbox.c.sent_at.is_(None))
        )
    return int(count or 0)


async def test_rolled_back_event_is_never_published(database: Database, migrated: Settings) -> None:
    async with database.unit_of_work() as uow:
        await uow.publish(policy_event("rolled-back"))
        # leaving without commit rolls back
    async with event_tap(migrated.amqp_url, "policy.created") as tap:
        relay = OutboxRelay(database, migrated.amqp_url, migrated.events_exchange)
        assert await relay.relay_once() == 0
        await relay.close()
        assert await tap.drain(0.3) == []


async def test_event_waits_while_broker_is_down_then_is_published(
    database: Database, migrated: Settings
) -> None:
    proxy = TcpProxy(target_port=5672)
    await proxy.open()
    port = proxy.port
    await proxy.close()  # the broker is "down": nothing listens on the relay's port
    relay_url = migrated.amqp_url.replace(":5672/", f":{port}/")
    relay = OutboxRelay(database, relay_url, migrated.events_exchange, poll_seconds=0.05)
    stop = asyncio.Event()
    async with event_tap(migrated.amqp_url, "policy.created") as tap:
        running = asyncio.create_task(relay.run(stop))
        event = policy_event("waits")
        async with database.unit_of_work() as uow:
            await uow.publish(event)
            await uow.commit()
        await asyncio.sleep(1.5)
        assert await unsent(database) == 1
        assert await tap.drain(0.2) == []

        proxy.port = port
        await proxy.open()  # the broker is back
        received = await tap.next(timeout=15)
        stop.set()
        await running
        await proxy.close()
    assert received["id"] == event.id
    assert received["type"] == "policy.created"
    assert received["data"]["policy_id"] == "waits"
    assert await unsent(database) == 0


async def test_concurrent_relays_publish_each_event_once_in_the_order_written(
    database: Database, migrated: Settings
) -> None:
    # One transaction: the rows share `created_at`, and their ids are random.
    events = [policy_event(f"many-{i}") for i in range(60)]
    async with database.unit_of_work() as uow:
        for event in events:
            await uow.publish(event)
        await uow.commit()
    async with event_tap(migrated.amqp_url, "policy.created") as tap:
        relays = [
            OutboxRelay(database, migrated.amqp_url, migrated.events_exchange, batch_size=7)
            for _ in range(3)
        ]

        async def drain(relay: OutboxRelay) -> int:
            total = 0
            while sent := await relay.relay_once():
                total += sent
            return total

        counts = await asyncio.gather(*(drain(relay) for relay in relays))
        for relay in relays:
            await relay.close()
        received = await tap.drain(1.0)
    assert sum(counts) == 60
    assert [e["id"] for e in received] == [e.id for e in events]


async def test_inbox_gives_a_redelivered_event_one_effect(database: Database) -> None:
    event = policy_event("twice")
    effects = 0
    for _ in range(2):
        async with database.unit_of_work() as uow:
            if await uow.first_delivery("tests.consumer", event):
                effects += 1
                await uow.publish(policy_event("effect"))
            await uow.commit()
    assert effects == 1
    async with database.engine.connect() as connection:
        rows = await connection.scalar(sa.select(sa.func.count()).select_from(database.inbox))
        outbox_rows = await connection.scalar(
            sa.select(sa.func.count()).select_from(database.outbox)
        )
    assert rows == 1
    assert outbox_rows == 1


async def test_inbox_entry_of_a_failed_handler_is_rolled_back(database: Database) -> None:
    event = policy_event("fails-first")
    with pytest.raises(RuntimeError):
        async with database.unit_of_work() as uow:
            assert await uow.first_delivery("tests.consumer", event)
            raise RuntimeError("handler crashed before commit")
    async with database.unit_of_work() as uow:
        assert await uow.first_delivery("tests.consumer", event)
        await uow.commit()
