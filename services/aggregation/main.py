"""Wiring of the aggregation service: database, consumers, outbox relay and HTTP API."""

from __future__ import annotations

from fastapi import FastAPI

from services.aggregation.api import aggregates, results
from services.aggregation.api.routes import router
from services.aggregation.db.tables import metadata
from services.aggregation.handlers.consumers import event_consumers
from shared.service import ServiceProcess, create_service_app, serve
from shared.settings import Settings, get_settings


def create_app(settings: Settings) -> FastAPI:
    """The aggregation service's app; its lifespan runs the consumer and the relay."""
    process = ServiceProcess("aggregation", settings, metadata)
    process.consumers.subscribe_all(event_consumers(process.database, process.source))
    return create_service_app(
        process,
        [router, results.router, aggregates.router],
        title="Fiscus aggregation",
        description="Impact reports of finished simulations, in PolicyEngine API v1's terms; "
        "raw results, charts and custom aggregates.",
    )


if __name__ == "__main__":
    settings = get_settings()
    serve(lambda: create_app(settings), "aggregation", settings.aggregation_port, settings)
