"""Schema bootstrap and Alembic migrations for every service.

`python -m shared.migrations upgrade` creates the database if needed, then for each
service: its login role `fiscus_<service>`, its schema owned by that role, and its
Alembic tree applied while connected as that role (the version table lives in the
service's own schema). Services never migrate at import or start.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from shared.settings import SERVICES, ServiceName, Settings, get_settings

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def role_name(service: str) -> str:
    return f"fiscus_{service}"


def _checked(identifier: str) -> str:
    if not _IDENTIFIER.match(identifier):
        raise ValueError(f"not a safe SQL identifier: {identifier!r}")
    return identifier


async def ensure_database(admin_url: str) -> None:
    """Create the target database when it does not exist yet."""
    url = make_url(admin_url)
    name = _checked(url.database or "")
    engine = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            exists = await connection.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


async def bootstrap_service(admin_url: str, service: str, password: str) -> None:
    """Create the service's role and schema; the role owns the schema and nothing else."""
    role, schema = _checked(role_name(service)), _checked(service)
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            exists = await connection.scalar(
                sa.text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
            )
            verb = "ALTER" if exists else "CREATE"
            quoted_password = password.replace("'", "''")
            await connection.execute(
                sa.text(f"{verb} ROLE {role} LOGIN PASSWORD '{quoted_password}' NOSUPERUSER")
            )
            await connection.execute(
                sa.text(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role}")
            )
            await connection.execute(sa.text(f"ALTER SCHEMA {schema} OWNER TO {role}"))
            await connection.execute(sa.text(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC"))
            await connection.execute(sa.text(f"ALTER ROLE {role} SET search_path = {schema}"))
    finally:
        await engine.dispose()


async def drop_service_schema(admin_url: str, service: str) -> None:
    """Remove a service's schema and everything in it (tests and `make reset` only)."""
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {_checked(service)} CASCADE"))
    finally:
        await engine.dispose()


def alembic_config(service: str, settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SERVICES_DIR / service / "db" / "migrations"))
    config.attributes["database_url"] = settings.service_database_url(service)  # type: ignore[arg-type]
    config.attributes["schema"] = service
    return config


def run_migrations_online(metadata: sa.MetaData) -> None:
    """Body of every service's `env.py`: migrate its schema as its own role."""
    config = context.config
    url: str = config.attributes["database_url"]
    schema: str = config.attributes["schema"]

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
            # The role's default schema is reported as None; other schemas are not ours.
            include_name=lambda name, kind, _parent: kind != "schema" or name in (None, schema),
            include_object=lambda _obj, name, kind, _reflected, _compare: (
                not (kind == "table" and name == "alembic_version")
            ),
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(migrate)
                await connection.commit()
        finally:
            await engine.dispose()

    asyncio.run(run())


def upgrade(services: tuple[ServiceName, ...], settings: Settings, revision: str = "heads") -> None:
    asyncio.run(ensure_database(settings.database_url))
    for service in services:
        asyncio.run(
            bootstrap_service(
                settings.database_url, service, settings.db_password.get_secret_value()
            )
        )
        command.upgrade(alembic_config(service, settings), revision)


def downgrade(
    services: tuple[ServiceName, ...], settings: Settings, revision: str = "base"
) -> None:
    for service in services:
        command.downgrade(alembic_config(service, settings), revision)


def main() -> None:
    parser = argparse.ArgumentParser(description="Apply or revert every service's migrations")
    parser.add_argument("action", choices=["upgrade", "downgrade", "revision"])
    parser.add_argument("services", nargs="*", help=f"some of {', '.join(SERVICES)}; all if none")
    parser.add_argument("--revision", default=None, help="target revision")
    parser.add_argument("-m", "--message", default="change", help="message of a new revision")
    args = parser.parse_args()
    unknown = set(args.services) - set(SERVICES)
    if unknown:
        parser.error(f"unknown services: {', '.join(sorted(unknown))}")
    services: tuple[ServiceName, ...] = tuple(args.services) or SERVICES
    settings = get_settings()
    if args.action == "upgrade":
        upgrade(services, settings, args.revision or "heads")
    elif args.action == "downgrade":
        downgrade(services, settings, args.revision or "base")
    else:
        for service in services:
            command.revision(
                alembic_config(service, settings), message=args.message, autogenerate=True
            )


if __name__ == "__main__":
    main()
