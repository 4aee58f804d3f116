"""One stack for the chaos scenarios, on a RabbitMQ node and a PostgreSQL server of its own.

The scenarios kill workers and poison queues under the running stack; on private
servers (tests/chaos/infrastructure.py) they can also stop and start the broker and
the database without touching anything else on the machine. Two simulation workers
run, so that one can die while the other goes on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared import migrations
from shared.settings import Settings
from tests.chaos.infrastructure import PrivatePostgres, PrivateRabbitMQ
from tests.conftest import MIGRATED_SERVICES
from tests.stack import RunningStack, running_stack

PORT_BASE = int(os.environ.get("FISCUS_TEST_PORT_BASE", "18000")) + 100

CHAOS_ENVIRONMENT = {
    "FISCUS_WORKERS": "2",
    # Household calculations are the load scenarios' business (tests/load).
    "FISCUS_STACK_SKIP": "households",
    # Several partitions per simulation on datasets of a few hundred households, so that a
    # worker can be killed in the middle of one while others remain (test_worker_killed).
    "FISCUS_PARTITION_HOUSEHOLDS": "100",
    # Webhook retries within seconds, not hours (test_webhook_receiver_down); a tail of
    # attempts 3 s apart for three minutes, so that a delivery outlives the receiver's outage
    # (it lasts until the last simulation's delivery has failed), and no endpoint disabled.
    "FISCUS_WEBHOOKS_RETRY_SCHEDULE": json.dumps([0, 2] + [3] * 58),
    "FISCUS_WEBHOOKS_POLL_SECONDS": "0.5",
    "FISCUS_WEBHOOKS_DISABLE_AFTER_FAILURES": "1000",
    # A POST cut off by the database crash leaves its Idempotency-Key claimed until this
    # lock ends (test_postgres_restart retries it with the same key).
    "FISCUS_IDEMPOTENCY_LOCK_SECONDS": "20",
}


@pytest.fixture(scope="package")
def private_rabbitmq() -> Iterator[PrivateRabbitMQ]:
    broker = PrivateRabbitMQ()
    broker.start()
    try:
        yield broker
    finally:
        broker.remove()


@pytest.fixture(scope="package")
def private_postgres() -> Iterator[PrivatePostgres]:
    database = PrivatePostgres()
    database.start()
    try:
        yield database
    finally:
        database.remove()


@pytest.fixture(scope="package")
def chaos_settings(
    private_rabbitmq: PrivateRabbitMQ,
    private_postgres: PrivatePostgres,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    """Settings on the private servers, every service schema migrated."""
    settings = Settings(
        environment="test",
        database_url=private_postgres.url("fiscus_chaos"),
        amqp_url=private_rabbitmq.amqp_url,
        data_dir=Path(tmp_path_factory.mktemp("chaos-data")),
        delivery_limit=3,
        outbox_poll_seconds=0.05,
    )
    migrations.upgrade(MIGRATED_SERVICES, settings)
    return settings


@pytest.fixture(scope="package")
def chaos_stack(
    chaos_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    var = tmp_path_factory.mktemp("chaos-stack-var")
    with running_stack(chaos_settings, var, PORT_BASE, CHAOS_ENVIRONMENT) as stack:
        yield stack
