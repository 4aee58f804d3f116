"""The worker's one population engine, built at start and kept warm.

Building it imports policyengine-us and builds the baseline tax-benefit system,
which takes most of a minute; it happens in a thread so that the process answers
`/healthz` (and `/readyz`, with "not ready") meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import pandas as pd

from shared.population import Population

log = logging.getLogger(__name__)

Reform = dict[str, dict[str, Any]]


class EngineResults(Protocol):
    """Household- and person-level results in the contracts.results.v1 layout."""

    @property
    def households(self) -> pd.DataFrame: ...

    @property
    def people(self) -> pd.DataFrame: ...


class SimulationEngine(Protocol):
    """What the worker needs of `services.simulation.domain.engine.PopulationEngine`."""

    @property
    def model_version(self) -> str: ...

    def run(
        self, population: Population, year: int, reform: Reform, baseline: Reform | None = None
    ) -> EngineResults: ...


EngineFactory = Callable[[], SimulationEngine]


class WarmEngine:
    """Builds the engine once in a thread; handlers wait for it, readiness reports it."""

    def __init__(
        self, factory: EngineFactory, on_failure: Callable[[BaseException], None] | None = None
    ) -> None:
        self._factory = factory
        self._on_failure = on_failure
        self._task: asyncio.Task[SimulationEngine] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._build(), name="engine-build")

    async def _build(self) -> SimulationEngine:
        started = time.perf_counter()
        try:
            engine = await asyncio.to_thread(self._factory)
        except Exception as exc:
            log.critical("building the population engine failed", exc_info=True)
            if self._on_failure is not None:
                self._on_failure(exc)
            raise
        log.info(
            "population engine ready",
            extra={
                "seconds": round(time.perf_counter() - started, 3),
                "model_version": engine.model_version,
            },
        )
        return engine

    async def get(self) -> SimulationEngine:
        """The engine, once built; raises what the build raised."""
        if self._task is None:
            raise RuntimeError("the engine was not started")
        # A cancelled handler must not cancel the build other handlers wait for.
        return await asyncio.shield(self._task)

    async def check(self) -> None:
        """Readiness: ready only with a built engine."""
        if self._task is None or not self._task.done():
            raise RuntimeError("the population engine is being built")
        if self._task.cancelled():
            raise RuntimeError("building the population engine was cancelled")
        error = self._task.exception()
        if error is not None:
            raise RuntimeError(f"building the population engine failed: {error!r}")
