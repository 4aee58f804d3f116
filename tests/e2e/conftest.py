"""One stack of real processes (deploy/stack.py) for every end-to-end test.

The stack runs on the test database and vhost for the whole package; each test
looks only at the resources it created. Its processes export their spans over
OTLP/HTTP, configured only by the standard environment, to a receiver of the tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from shared.settings import Settings
from tests.conftest import TEST_VHOST, migrate_afresh, reset_vhost
from tests.e2e.otlp_receiver import SpanInbox, otlp_receiver
from tests.stack import RunningStack, running_stack

PORT_BASE = int(os.environ.get("FISCUS_TEST_PORT_BASE", "18000"))

__all__ = ["PORT_BASE", "RunningStack", "spans", "stack"]


@pytest.fixture(scope="package")
def spans() -> Iterator[SpanInbox]:
    with otlp_receiver() as inbox:
        yield inbox


@pytest.fixture(scope="package")
def emptied(migrated: Settings) -> Settings:
    """The test database and vhost as new: tests run before this package left rows,
    unsent outbox events, webhook endpoints and queued messages in them, which the
    stack's processes would otherwise take up."""
    reset_vhost(TEST_VHOST)
    migrate_afresh(migrated)
    return migrated


# Package scope: the stack's consumers share the test vhost and database, so they are
# gone before the service tests run their own consumers there.
@pytest.fixture(scope="package")
def stack(
    emptied: Settings, spans: SpanInbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    telemetry = {"OTEL_EXPORTER_OTLP_ENDPOINT": spans.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    var = tmp_path_factory.mktemp("stack-var")
    with running_stack(emptied, var, PORT_BASE, telemetry) as running:
        yield running
