"""Wiring of the webhooks service: database, consumers, delivery loop, relay and HTTP API."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from services.webhooks.api.routes import router
from services.webhooks.db.tables import metadata
from services.webhooks.handlers.consumers import event_consumers
from services.webhooks.workers.deliveries import DeliveryLoop
from shared.service import ServiceProcess, create_service_app, serve
from shared.settings import Settings, get_settings


class WebhooksProcess(ServiceProcess):
    """A service process that also runs the delivery loop."""

    def __init__(self, settings: Settings) -> None:
        super().__init__("webhooks", settings, metadata)
        self.deliveries = DeliveryLoop(self.database, settings, self.source)
        self._loop_stop = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await super().start()
        self._loop_stop.clear()
        self._loop_task = asyncio.create_task(
            self.deliveries.run(self._loop_stop), name="webhook-deliveries"
        )

    async def stop(self) -> None:
        self._loop_stop.set()
        if self._loop_task is not None:
            await self._loop_task
        await super().stop()


def create_app(settings: Settings) -> FastAPI:
    """The webhooks service's app; its lifespan runs the consumers, the relay and the loop."""
    process = WebhooksProcess(settings)
    first_delay = settings.webhooks_retry_schedule[0] if settings.webhooks_retry_schedule else 0.0
    process.consumers.subscribe_all(
        event_consumers(process.database, first_delay, process.deliveries.wake)
    )
    app = create_service_app(
        process,
        [router],
        title="Fiscus webhooks",
        description="Signed HTTP deliveries of Fiscus events to registered endpoints.",
    )
    app.state.settings = settings
    app.state.wake_deliveries = process.deliveries.wake
    return app


if __name__ == "__main__":
    settings = get_settings()
    serve(lambda: create_app(settings), "webhooks", settings.webhooks_port, settings)
