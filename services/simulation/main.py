"""Wiring of the simulation service's processes.

`python -m services.simulation.main api` serves the internal API and keeps the
dataset and policy projections; `python -m services.simulation.main worker` runs
simulations on a warm population engine and serves only `/healthz` and `/readyz`;
`python -m services.simulation.main households` calculates households (same).
"""

from __future__ import annotations

import argparse
import os
import signal
from collections.abc import Awaitable, Callable, Sequence

from fastapi import FastAPI

from services.simulation.adapters.admissions import Admissions
from services.simulation.adapters.baselines import StoredBaselines
from services.simulation.adapters.household_answers import HouseholdAnswers
from services.simulation.adapters.household_calls import HouseholdCalls
from services.simulation.adapters.warm_engine import EngineFactory, SimulationEngine, WarmEngine
from services.simulation.api import batches, households
from services.simulation.api.routes import router
from services.simulation.db.tables import metadata
from services.simulation.handlers.consumers import (
    WORKER_QUEUES,
    api_consumers,
    worker_consumers,
)
from services.simulation.workers.gauges import simulation_gauges, warm_systems_gauge
from services.simulation.workers.households import (
    HouseholdBatcher,
    HouseholdCalculator,
    HouseholdServer,
)
from shared.broker import DeadLettering, EventConsumers, declare_consumer_queues
from shared.service import ServiceProcess, create_service_app, serve
from shared.settings import Settings, get_settings


def _declare_worker_queues(
    consumers: EventConsumers, settings: Settings
) -> Callable[[], Awaitable[None]]:
    """Declare the workers' queues from the API process too.

    A request accepted before any worker ever started would otherwise be published
    while no queue is bound for it, and be dropped as unroutable.
    """

    async def declare() -> None:
        await declare_consumer_queues(consumers.broker, settings, WORKER_QUEUES)

    return declare


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API process: simulations resource, dataset and policy projections."""
    settings = settings or get_settings()
    process = ServiceProcess("simulation", settings, metadata)
    process.consumers.subscribe_all(api_consumers(process.database, settings.resolved_storage_url))
    calls = HouseholdCalls(
        settings.amqp_url, settings.household_timeout_seconds, DeadLettering.of(settings)
    )
    process.readiness_checks.append(("household_calls", calls.check))
    process.metric_refreshers.append(simulation_gauges(process.database))
    app = create_service_app(
        process,
        [batches.router, router, households.router],
        title="Fiscus simulation service",
        description="Society-wide simulations: request, follow, read results.",
        on_start=[_declare_worker_queues(process.consumers, settings), calls.start],
        on_stop=[calls.stop],
    )
    app.state.household_calls = calls
    app.state.admissions = Admissions(process.database, process.source)
    return app


def build_population_engine() -> SimulationEngine:
    # Imported here: importing policyengine-us costs half a minute, and only workers need it.
    from services.simulation.domain.engine import PopulationEngine

    engine = PopulationEngine(baseline_store=baseline_store(get_settings()))
    # The first calculation of a year caches its parameters: pay for it before the first job.
    engine.warm()
    return engine


def baseline_store(settings: Settings) -> StoredBaselines:
    """Baselines in the results' object storage, the most recent in memory."""
    return StoredBaselines(settings.resolved_storage_url, settings.baseline_memory_bytes)


def _terminate(error: BaseException) -> None:
    """A worker without an engine is useless: exit, and let the supervisor start a new one."""
    os.kill(os.getpid(), signal.SIGTERM)


def create_worker_app(
    settings: Settings | None = None,
    engine_factory: EngineFactory = build_population_engine,
    *,
    exit_on_engine_failure: bool = True,
) -> FastAPI:
    """The worker process: plans requested simulations and computes their partitions;
    `/readyz` once the engine is warm."""
    settings = settings or get_settings()
    # One message at a time: a worker holding more would keep them from idle workers.
    settings = settings.model_copy(update={"prefetch": 1})
    process = ServiceProcess("simulation", settings, metadata)
    engine = WarmEngine(engine_factory, on_failure=_terminate if exit_on_engine_failure else None)
    process.consumers.subscribe_all(
        worker_consumers(process.database, process.source, settings, engine)
    )
    process.readiness_checks.append(("engine", engine.check))
    process.metric_refreshers.append(warm_systems_gauge(engine, "worker"))
    return create_service_app(
        process,
        [],
        title="Fiscus simulation worker",
        description="Runs society-wide simulations.",
        on_start=[engine.start],
    )


def build_household_engine() -> HouseholdCalculator:
    from services.simulation.domain.engine import PopulationEngine
    from services.simulation.domain.household_engine import HouseholdEngine, warmed

    return warmed(HouseholdEngine(PopulationEngine()))


def create_households_app(
    settings: Settings | None = None,
    engine_factory: Callable[[], HouseholdCalculator] = build_household_engine,
    *,
    exit_on_engine_failure: bool = True,
) -> FastAPI:
    """The households worker: household calculations, micro-batched; `/readyz` once warm."""
    settings = settings or get_settings()
    process = ServiceProcess("simulation", settings, metadata)
    engine = WarmEngine(
        engine_factory,
        on_failure=_terminate if exit_on_engine_failure else None,
        name="household engine",
    )
    batcher = HouseholdBatcher(
        engine,
        settings.household_batch_ms / 1000,
        settings.household_batch_max,
        HouseholdAnswers(settings.household_answers_kept),
    )
    # Room for a whole batch waiting while the one before it is calculated.
    server = HouseholdServer(
        settings.amqp_url,
        engine,
        batcher,
        2 * settings.household_batch_max,
        DeadLettering.of(settings),
    )
    process.consumers.record(server.consumed)
    process.readiness_checks.append(("engine", engine.check))
    process.readiness_checks.append(("households", server.check))
    return create_service_app(
        process,
        [],
        title="Fiscus households worker",
        description="Calculates households on a warm engine.",
        on_start=[engine.start, server.start],
        on_stop=[server.stop],
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a simulation service process")
    parser.add_argument("process", choices=["api", "worker", "households"])
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.process == "api":
        serve(lambda: create_app(settings), "simulation", settings.simulation_port, settings)
    elif args.process == "households":
        serve(
            lambda: create_households_app(settings),
            "simulation-households",
            settings.households_port,
            settings,
        )
    else:
        serve(
            lambda: create_worker_app(settings), "simulation-worker", settings.worker_port, settings
        )


if __name__ == "__main__":
    main()
