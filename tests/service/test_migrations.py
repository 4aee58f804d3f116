"""Each service's schema: its own Alembic tree, its own role, no reach into the others."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from shared import migrations
from shared.settings import SERVICES, Settings

# The services that record or consume events: the gateway does neither (no outbox, no inbox).
MESSAGING = {"outbox", "inbox"}


def messaging_tables(service: str) -> set[str]:
    return set() if service == "gateway" else MESSAGING


def test_every_service_has_a_migration_tree() -> None:
    for service in SERVICES:
        assert (migrations.SERVICES_DIR / service / "db" / "migrations" / "env.py").exists()


async def tables_of(connection: AsyncConnection, schema: str) -> set[str]:
    rows = await connection.execute(
        sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"), {"schema": schema}
    )
    return {row[0] for row in rows}


@pytest.mark.parametrize("service", SERVICES)
async def test_upgrade_downgrade_upgrade(
    service: str, migrated: Settings, admin_connection: AsyncConnection
) -> None:
    tables = await tables_of(admin_connection, service)
    assert {"alembic_version", *messaging_tables(service)} <= tables
    assert MESSAGING & tables == messaging_tables(service)
    owner = await admin_connection.scalar(
        sa.text("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = :s"),
        {"s": service},
    )
    assert owner == migrations.role_name(service)
    await admin_connection.commit()

    await asyncio.to_thread(migrations.downgrade, (service,), migrated)  # type: ignore[arg-type]
    assert await tables_of(admin_connection, service) == {"alembic_version"}
    await admin_connection.commit()
    await asyncio.to_thread(migrations.upgrade, (service,), migrated)  # type: ignore[arg-type]
    assert MESSAGING & await tables_of(admin_connection, service) == messaging_tables(service)


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_role_cannot_read_another_schema(service: str, migrated: Settings) -> None:
    other = next(s for s in SERVICES if s != service)
    engine = create_async_engine(migrated.service_database_url(service))  # type: ignore[arg-type]
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text(f"SELECT count(*) FROM {service}.alembic_version"))
            with pytest.raises(DBAPIError, match="permission denied"):
                await connection.execute(sa.text(f"SELECT count(*) FROM {other}.alembic_version"))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
async def test_tables_match_the_migrations(service: str, migrated: Settings) -> None:
    from alembic import command

    # Raises when the tables in db/tables.py differ from what the migrations built.
    await asyncio.to_thread(command.check, migrations.alembic_config(service, migrated))
