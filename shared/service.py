"""What every Fiscus service process is made of, wired in one place.

A process has its database (its own schema, its own role), its outbox relay (unless
it publishes no events: the gateway), and its event consumers; an HTTP process also
has a FastAPI app with `/healthz` and `/readyz`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Annotated, Any

import sqlalchemy as sa
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from shared.broker import EventConsumers, make_broker
from shared.db import Database, UnitOfWork, create_engine
from shared.instrumentation import instrument_app
from shared.logs import configure_logging
from shared.metrics import READY, MetricRefresher
from shared.outbox import OutboxRelay, measure_outbox
from shared.problems import install_problem_handlers
from shared.settings import ServiceName, Settings
from shared.tracing import configure_tracing

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]


class ServiceProcess:
    """The running parts of one service process."""

    def __init__(
        self,
        service: ServiceName,
        settings: Settings,
        metadata: sa.MetaData,
        *,
        publishes: bool = True,
    ) -> None:
        """`publishes=False`: the process records no events, so it runs no outbox relay
        (which would poll an empty outbox) and reports no outbox backlog."""
        self.service: ServiceName = service
        self.settings = settings
        self.database = Database(
            create_engine(
                settings.service_database_url(service),
                pool_size=settings.db_pool_size,
                connect_timeout=settings.db_connect_timeout_seconds,
            ),
            metadata,
        )
        self.consumers = EventConsumers(make_broker(settings), settings)
        self.relay: OutboxRelay | None = None
        self.readiness_checks: list[tuple[str, ReadinessCheck]] = [("database", self._check_db)]
        # Run when /metrics is scraped, to set gauges that describe stored state.
        self.metric_refreshers: list[MetricRefresher] = [self._measure_ready]
        if publishes:
            self.relay = OutboxRelay(
                self.database,
                settings.amqp_url,
                settings.events_exchange,
                poll_seconds=settings.outbox_poll_seconds,
                batch_size=settings.outbox_batch_size,
                linger_seconds=settings.outbox_linger_seconds,
            )
            self.database.on_events_committed.append(self.relay.wake)
            self.metric_refreshers.insert(0, self._measure_outbox)
        self._stop = asyncio.Event()
        self._relay_task: asyncio.Task[None] | None = None

    @property
    def source(self) -> str:
        """The CloudEvents `source` of events this service emits."""
        return f"/fiscus/{self.service}"

    async def start(self) -> None:
        self._stop.clear()
        if self.relay is not None:
            self._relay_task = asyncio.create_task(self.relay.run(self._stop), name="outbox-relay")
        if self.consumers.queues:
            await self.consumers.start()
            self.readiness_checks.append(("broker", self._check_broker))

    async def stop(self) -> None:
        self._stop.set()
        if self.consumers.queues:
            await self.consumers.stop()
        if self._relay_task is not None:
            await self._relay_task
        await self.database.engine.dispose()

    async def readiness(self) -> dict[str, str]:
        report: dict[str, str] = {}
        for name, check in self.readiness_checks:
            try:
                await asyncio.wait_for(check(), timeout=3)
                report[name] = "ok"
            except Exception as exc:
                report[name] = f"{type(exc).__name__}: {exc}"[:200]
        return report

    async def _check_db(self) -> None:
        async with self.database.engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))

    async def _measure_outbox(self) -> None:
        await measure_outbox(self.database, self.service)

    async def _measure_ready(self) -> None:
        checks = await self.readiness()
        READY.labels(self.service).set(1 if all(v == "ok" for v in checks.values()) else 0)

    async def _check_broker(self) -> None:
        if not await self.consumers.broker.ping(timeout=2):
            raise ConnectionError("broker does not answer")


def process_of(request: Request) -> ServiceProcess:
    process: ServiceProcess = request.app.state.process
    return process


async def _unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    async with process_of(request).database.unit_of_work() as uow:
        yield uow


UnitOfWorkDep = Annotated[UnitOfWork, Depends(_unit_of_work)]
ProcessDep = Annotated[ServiceProcess, Depends(process_of)]


def health_router(readiness: Callable[[Request], Awaitable[dict[str, str]]]) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="The process and its dependencies are ready")
    async def readyz(request: Request) -> Response:
        checks = await readiness(request)
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    return router


def create_service_app(
    process: ServiceProcess,
    routers: Sequence[APIRouter],
    *,
    title: str,
    description: str = "",
    on_start: Sequence[Callable[[], Awaitable[None]]] = (),
    on_stop: Sequence[Callable[[], Awaitable[None]]] = (),
) -> FastAPI:
    """An internal service API: its routers, problem+json errors, health and readiness."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await process.start()
        for hook in on_start:
            await hook()
        try:
            yield
        finally:
            for hook in on_stop:
                await hook()
            await process.stop()

    app = FastAPI(title=title, description=description, lifespan=lifespan)
    app.state.process = process
    install_problem_handlers(app)

    async def readiness(request: Request) -> dict[str, str]:
        return await process.readiness()

    app.include_router(health_router(readiness))
    for router in routers:
        app.include_router(router)
    instrument_app(app, process.service, process.metric_refreshers)
    return app


def serve(make_app: Callable[[], Any], service: str, port: int, settings: Settings) -> None:
    """Run the ASGI app `make_app()` makes, with JSON logs and traces, until interrupted.
    Tracing comes first, so that what the app makes (its database engine) is traced."""
    configure_logging(service, settings.log_level)
    configure_tracing(service)
    uvicorn.run(make_app(), host=settings.host, port=port, log_config=None, access_log=False)
