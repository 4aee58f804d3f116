"""Wiring of the simulation service's two processes.

`python -m services.simulation.main api` serves the internal API and keeps the
dataset and policy projections; `python -m services.simulation.main worker` runs
simulations on a warm population engine and serves only `/healthz` and `/readyz`.
"""

from __future__ import annotations

import argparse
import os
import signal
from collections.abc import Awaitable, Callable, Sequence

from fastapi import FastAPI

from contracts.events.dataset.v1 import DatasetRegistered
from contracts.events.policy.v1 import PolicyCreated
from contracts.events.simulation.v1 import SimulationRequested
from services.simulation.api.routes import router
from services.simulation.db.tables import metadata
from services.simulation.handlers.projections import (
    DATASETS_QUEUE,
    POLICIES_QUEUE,
    ProjectionHandlers,
)
from services.simulation.handlers.requests import REQUESTS_QUEUE, SimulationRunner
from services.simulation.handlers.warm_engine import EngineFactory, SimulationEngine, WarmEngine
from shared.broker import (
    EventConsumers,
    consumer_queue,
    dead_letter_exchange,
    dead_letter_queue,
    events_exchange,
)
from shared.service import ServiceProcess, create_service_app, serve
from shared.settings import Settings, get_settings


def _declare_requests_queue(
    consumers: EventConsumers, settings: Settings
) -> Callable[[], Awaitable[None]]:
    """Declare the workers' queue from the API process too.

    A request accepted before any worker ever started would otherwise be published
    while no queue is bound for it, and be dropped as unroutable.
    """

    async def declare() -> None:
        broker = consumers.broker
        exchange = await broker.declare_exchange(events_exchange(settings))
        queue = await broker.declare_queue(
            consumer_queue(settings, REQUESTS_QUEUE, SimulationRequested.event_type)
        )
        await queue.bind(exchange, routing_key=SimulationRequested.event_type)
        dlx = await broker.declare_exchange(dead_letter_exchange(settings))
        dlq = await broker.declare_queue(dead_letter_queue(REQUESTS_QUEUE))
        await dlq.bind(dlx, routing_key=REQUESTS_QUEUE)

    return declare


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API process: simulations resource, dataset and policy projections."""
    settings = settings or get_settings()
    process = ServiceProcess("simulation", settings, metadata)
    handlers = ProjectionHandlers(process.database)
    process.consumers.subscribe(
        DATASETS_QUEUE, DatasetRegistered.event_type, handlers.on_dataset_registered
    )
    process.consumers.subscribe(
        POLICIES_QUEUE, PolicyCreated.event_type, handlers.on_policy_created
    )
    return create_service_app(
        process,
        [router],
        title="Fiscus simulation service",
        description="Society-wide simulations: request, follow, read results.",
        on_start=[_declare_requests_queue(process.consumers, settings)],
    )


def build_population_engine() -> SimulationEngine:
    # Imported here: importing policyengine-us costs half a minute, and only workers need it.
    from services.simulation.domain.engine import PopulationEngine

    engine = PopulationEngine()
    # The first calculation of a year caches its parameters: pay for it before the first job.
    engine.warm()
    return engine


def _terminate(error: BaseException) -> None:
    """A worker without an engine is useless: exit, and let the supervisor start a new one."""
    os.kill(os.getpid(), signal.SIGTERM)


def create_worker_app(
    settings: Settings | None = None,
    engine_factory: EngineFactory = build_population_engine,
    *,
    exit_on_engine_failure: bool = True,
) -> FastAPI:
    """The worker process: consumes `simulation.requested`; `/readyz` once the engine is warm."""
    settings = settings or get_settings()
    # One message at a time: a worker holding more would keep them from idle workers.
    settings = settings.model_copy(update={"prefetch": 1})
    process = ServiceProcess("simulation", settings, metadata)
    engine = WarmEngine(engine_factory, on_failure=_terminate if exit_on_engine_failure else None)
    runner = SimulationRunner(
        process.database,
        settings.resolved_storage_url,
        process.source,
        engine,
        attempts=settings.delivery_limit,
    )
    process.consumers.subscribe(
        REQUESTS_QUEUE, SimulationRequested.event_type, runner.on_simulation_requested
    )
    process.readiness_checks.append(("engine", engine.check))
    return create_service_app(
        process,
        [],
        title="Fiscus simulation worker",
        description="Runs society-wide simulations.",
        on_start=[engine.start],
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a simulation service process")
    parser.add_argument("process", choices=["api", "worker"])
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.process == "api":
        serve(create_app(settings), "simulation", settings.simulation_port, settings)
    else:
        serve(create_worker_app(settings), "simulation-worker", settings.worker_port, settings)


if __name__ == "__main__":
    main()
