"""Gauges of the simulation service, set when /metrics is scraped (shared/metrics.py).

Simulations by status and partitions by state are read from the service's tables, so
any one API process reports them for the whole service; a worker reports how many
tax-benefit systems its warm engine holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from services.simulation.adapters.warm_engine import WarmEngine
from services.simulation.db import partitions as partition_store
from services.simulation.db import simulations as store
from shared.db import Database
from shared.metrics import PARTITIONS, SIMULATIONS, WARM_SYSTEMS

PARTITION_STATES = ("queued", "running", "done")
SIMULATION_STATUSES = ("queued", "running", "completed", "failed", "cancelled")


def simulation_gauges(database: Database) -> Callable[[], Awaitable[None]]:
    """A refresher of the simulations-by-status and partitions-by-state gauges."""

    async def measure() -> None:
        async with database.engine.connect() as connection:
            by_status = await store.count_by_status(connection)
            by_state = await partition_store.count_by_state(connection)
        for status in {*SIMULATION_STATUSES, *by_status}:
            SIMULATIONS.labels(status).set(by_status.get(status, 0))
        for state in {*PARTITION_STATES, *by_state}:
            PARTITIONS.labels(state).set(by_state.get(state, 0))

    return measure


def warm_systems_gauge(engine: WarmEngine[Any], process: str) -> Callable[[], Awaitable[None]]:
    """A refresher of the number of tax-benefit systems the warm engine holds (0 while cold)."""

    async def measure() -> None:
        try:
            await engine.check()
        except RuntimeError:
            WARM_SYSTEMS.labels(process).set(0)
            return
        built = await engine.get()
        cached = getattr(built, "systems_cached", None)
        WARM_SYSTEMS.labels(process).set(cached if isinstance(cached, int) else 1)

    return measure
