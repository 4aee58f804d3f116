"""Wiring of the dataset service: `python -m services.dataset.main` serves its internal API."""

from __future__ import annotations

from fastapi import FastAPI

from services.dataset.api.routes import router
from services.dataset.db.tables import metadata
from shared.service import ServiceProcess, create_service_app, serve
from shared.settings import Settings, get_settings


def create_app(settings: Settings) -> FastAPI:
    """The dataset service's app; its lifespan runs the outbox relay."""
    process = ServiceProcess("dataset", settings, metadata)
    return create_service_app(
        process,
        [router],
        title="Fiscus dataset service",
        description="Registers, validates, stores and serves population microdata.",
    )


if __name__ == "__main__":
    settings = get_settings()
    serve(lambda: create_app(settings), "dataset", settings.port_of("dataset"), settings)
