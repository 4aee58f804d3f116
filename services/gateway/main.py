"""Wiring of the gateway process: the public REST API of Fiscus."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse

from services.gateway.adapters.limiter import KeyLimiter
from services.gateway.adapters.simulation_feed import SimulationEventFeed
from services.gateway.api import (
    audit,
    docs,
    keys,
    policyengine_v1,
    policyengine_v1_economy,
    proxy,
    web,
)
from services.gateway.api import events as simulation_events
from services.gateway.db.tables import metadata
from services.gateway.domain.rate_limits import parse_rate_limit
from services.gateway.domain.routing import UPSTREAMS
from shared.instrumentation import instrument_app, instrument_http_client
from shared.problems import install_problem_handlers
from shared.service import ServiceProcess, health_router, serve
from shared.settings import Settings, get_settings

DESCRIPTION = """PolicyEngine US tax-benefit microsimulations as a service.

Every `/api/v1` route requires `Authorization: Bearer <API key>`. Errors are
`application/problem+json` (RFC 9457) with a `request_id`. Every `/api/v1` answer
carries `RateLimit-*` and `X-RateLimit-*` headers; a POST may carry an
`Idempotency-Key` to make retries safe.
"""


def create_app(settings: Settings) -> FastAPI:
    # A wrong default limit should stop the process here, not fail every request.
    parse_rate_limit(settings.default_rate_limit)
    # The gateway records no events (its tables are keys, idempotency and audit).
    process = ServiceProcess("gateway", settings, metadata, publishes=False)
    # Simulation events from the bus, for the SSE streams this process serves.
    feed = SimulationEventFeed(settings)
    process.consumers.record(feed.consumed)
    process.readiness_checks.append(("events", feed.check))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.http = instrument_http_client(
            httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=3.0))
        )
        if settings.rate_limit_enabled:
            app.state.limiter = KeyLimiter(settings)
        await process.start()
        await feed.start()
        try:
            yield
        finally:
            await feed.stop()
            await process.stop()
            await app.state.http.aclose()
            if app.state.limiter is not None:
                await app.state.limiter.close()
                app.state.limiter = None

    app = FastAPI(
        title="Fiscus",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.process = process
    app.state.simulation_events = feed
    app.state.limiter = None
    install_problem_handlers(app)

    async def redis_answers() -> None:
        limiter: KeyLimiter | None = app.state.limiter
        if limiter is not None:
            await limiter.ping()

    if settings.rate_limit_enabled:
        process.readiness_checks.append(("redis", redis_answers))

    async def readiness(request: Request) -> dict[str, str]:
        checks = await process.readiness()
        client: httpx.AsyncClient = request.app.state.http

        async def upstream(service: str) -> tuple[str, str]:
            try:
                answer = await client.get(settings.service_url(service) + "/readyz", timeout=3)  # type: ignore[arg-type]
                return (
                    service,
                    "ok" if answer.status_code == 200 else f"status {answer.status_code}",
                )
            except httpx.HTTPError as exc:
                return service, type(exc).__name__

        checks.update(await asyncio.gather(*(upstream(service) for service in UPSTREAMS)))
        return checks

    app.include_router(health_router(readiness))
    app.include_router(docs.router)
    app.include_router(keys.router)
    app.include_router(audit.router)
    app.include_router(simulation_events.router)
    app.include_router(policyengine_v1.router)
    app.include_router(policyengine_v1_economy.router)
    app.include_router(web.router)
    app.include_router(proxy.router)

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Fiscus API")

    instrument_app(app, "gateway", process.metric_refreshers)
    return app


def main() -> None:
    settings = get_settings()
    serve(lambda: create_app(settings), "gateway", settings.gateway_port, settings)


if __name__ == "__main__":
    main()
