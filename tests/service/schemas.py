"""A service's schema of its own for a test module, apart from the session's `migrated`."""

from __future__ import annotations

import asyncio

from shared import migrations
from shared.settings import ServiceName, Settings


def migrated_afresh(settings: Settings, service: ServiceName) -> Settings:
    """`settings`, once `service`'s schema alone is dropped and migrated again."""

    async def drop() -> None:
        await migrations.ensure_database(settings.database_url)
        await migrations.drop_service_schema(settings.database_url, service)

    asyncio.run(drop())
    migrations.upgrade((service,), settings)
    return settings
