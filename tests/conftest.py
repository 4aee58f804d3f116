"""Test fixtures on the real local Postgres and RabbitMQ.

Tests use their own database (`fiscus_test` unless FISCUS_TEST_DB names another) and
their own RabbitMQ virtual host (`fiscus-test` unless FISCUS_TEST_VHOST names
another), so they never touch a running stack's data.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from shared import migrations
from shared.settings import SERVICES, Settings

# One policyengine-us engine (tests/engine_fixtures.py) and one stack of real processes
# (tests/stack_fixtures.py) for the whole session; each package's time (tests/phases.py).
pytest_plugins = ["tests.engine_fixtures", "tests.stack_fixtures", "tests.phases"]

TESTS = Path(__file__).resolve().parent
# Packages in the order they run: those without the stack first (in the stack lane, the
# fuzzing runs while the stack starts); of those with it, the destructive scenarios
# (kills, restarts) last.
PACKAGE_ORDER = ("unit", "service", "fuzz", "e2e", "load", "chaos")


STACK_PACKAGES = ("e2e", "load", "chaos")


def package_of(item: pytest.Item) -> str:
    return item.path.relative_to(TESTS).parts[0]


# First, so that `-m stack` and the like see the markers added here.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Markers by what a test needs: `stack` (the whole stack, e2e/load/chaos), `fault`
    (it kills, restarts or poisons: chaos), `engine` (policyengine-us in the test process:
    the `slow` tests of the other packages), and `fuzz` (the hostile-input fuzzing of
    tests/fuzz); then the packages in PACKAGE_ORDER."""
    for item in items:
        package = package_of(item)
        if package == "fuzz":
            item.add_marker(pytest.mark.fuzz)
        if package in STACK_PACKAGES:
            item.add_marker(pytest.mark.stack)
            if package == "chaos":
                item.add_marker(pytest.mark.fault)
        elif item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.engine)

    def rank(item: pytest.Item) -> int:
        package = package_of(item)
        return PACKAGE_ORDER.index(package) if package in PACKAGE_ORDER else len(PACKAGE_ORDER)

    items.sort(key=rank)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With FISCUS_TESTS_WITHOUT_ENGINE set (`make test-fast`, `make test-unit`), a run
    that imported policyengine-us fails: those targets promise to run without it."""
    if os.environ.get("FISCUS_TESTS_WITHOUT_ENGINE") and "policyengine_us" in sys.modules:
        print("\nFISCUS_TESTS_WITHOUT_ENGINE: a test imported policyengine-us; mark it slow")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


TEST_DB = os.environ.get("FISCUS_TEST_DB", "fiscus_test")
TEST_VHOST = os.environ.get("FISCUS_TEST_VHOST", "fiscus-test")
ADMIN_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{TEST_DB}"
# Services whose migration tree exists (tests/service/test_migrations.py requires all).
MIGRATED_SERVICES = tuple(
    service
    for service in SERVICES
    if (migrations.SERVICES_DIR / service / "db" / "migrations" / "env.py").exists()
)


def ensure_vhost(vhost: str) -> None:
    """Create a RabbitMQ virtual host for the tests, with rights for guest."""
    rabbitmqctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    listed = subprocess.run(
        [rabbitmqctl, "list_vhosts", "-q"], capture_output=True, text=True, check=True
    ).stdout.split()
    if vhost not in listed:
        subprocess.run([rabbitmqctl, "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(
        [rabbitmqctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )


def reset_vhost(vhost: str) -> None:
    """Start from an empty virtual host: no queues or exchanges from an earlier run."""
    rabbitmqctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    subprocess.run([rabbitmqctl, "delete_vhost", vhost], capture_output=True)
    ensure_vhost(vhost)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fiscus-data")


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> Settings:
    reset_vhost(TEST_VHOST)
    return Settings(
        environment="test",
        database_url=ADMIN_URL,
        amqp_url=f"amqp://guest:guest@127.0.0.1:5672/{TEST_VHOST}",
        data_dir=data_dir,
        delivery_limit=3,
        outbox_poll_seconds=0.05,
        projection_wait_seconds=3.0,
    )


def migrate_afresh(settings: Settings) -> None:
    """Drop every service schema of the test database and migrate it again."""

    async def drop_all() -> None:
        await migrations.ensure_database(settings.database_url)
        for service in SERVICES:
            await migrations.drop_service_schema(settings.database_url, service)

    asyncio.run(drop_all())
    migrations.upgrade(MIGRATED_SERVICES, settings)


@pytest.fixture(scope="session")
def migrated(settings: Settings) -> Iterator[Settings]:
    """Every service schema dropped and migrated afresh, once per test session."""
    migrate_afresh(settings)
    yield settings


@pytest.fixture
async def admin_connection(migrated: Settings) -> AsyncIterator[AsyncConnection]:
    """A superuser connection to the test database, for inspecting any schema."""
    engine = create_async_engine(make_url(migrated.database_url))
    async with engine.connect() as connection:
        yield connection
    await engine.dispose()
