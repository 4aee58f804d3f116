"""The worker's one population engine, built at start and kept warm.

Building it imports policyengine-us and builds the baseline tax-benefit system,
which takes most of a minute; it happens in a thread so that the process answers
`/healthz` (and `/readyz`, with "not ready") meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

import pandas as pd

from services.simulation.domain.reform_arm import ReformArm
from shared.population import Population

log = logging.getLogger(__name__)

Reform = dict[str, dict[str, Any]]


class EngineResults(Protocol):
    """Household- and person-level results in the contracts.results.v1 layout."""

    @property
    def households(self) -> pd.DataFrame: ...

    @property
    def people(self) -> pd.DataFrame: ...

    @property
    def reform_arm(self) -> ReformArm: ...

    @property
    def baseline_source(self) -> str: ...


class SimulationEngine(Protocol):
    """What the worker needs of `services.simulation.domain.engine.PopulationEngine`."""

    @property
    def model_version(self) -> str: ...

    def run(
        self,
        population: Population,
        year: int,
        reform: Reform,
        baseline: Reform | None = None,
        outputs: Sequence[str] = (),
        baseline_key: str | None = None,
    ) -> EngineResults: ...


EngineFactory = Callable[[], SimulationEngine]


class BuiltEngine(Protocol):
    @property
    def model_version(self) -> str: ...


EngineT = TypeVar("EngineT", bound=BuiltEngine)


class WarmEngine(Generic[EngineT]):
    """Builds an engine once in a thread; handlers wait for it, readiness reports it."""

    def __init__(
        self,
        factory: Callable[[], EngineT],
        on_failure: Callable[[BaseException], None] | None = None,
        name: str = "population engine",
    ) -> None:
        self._factory = factory
        self._on_failure = on_failure
        self._name = name
        self._task: asyncio.Task[EngineT] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._build(), name=f"{self._name} build")

    async def _build(self) -> EngineT:
        started = time.perf_counter()
        try:
            engine = await asyncio.to_thread(self._factory)
        except Exception as exc:
            log.critical("building the %s failed", self._name, exc_info=True)
            if self._on_failure is not None:
                self._on_failure(exc)
            raise
        log.info(
            "%s ready",
            self._name,
            extra={
                "seconds": round(time.perf_counter() - started, 3),
                "model_version": engine.model_version,
            },
        )
        return engine

    async def get(self) -> EngineT:
        """The engine, once built; raises what the build raised.

        Consumers start before the process's start hooks, so a message can arrive
        before `start()` was called: the build then starts here.
        """
        if self._task is None:
            await self.start()
        assert self._task is not None
        # A cancelled handler must not cancel the build other handlers wait for.
        return await asyncio.shield(self._task)

    async def check(self) -> None:
        """Readiness: ready only with a built engine."""
        if self._task is None or not self._task.done():
            raise RuntimeError(f"the {self._name} is being built")
        if self._task.cancelled():
            raise RuntimeError(f"building the {self._name} was cancelled")
        error = self._task.exception()
        if error is not None:
            raise RuntimeError(f"building the {self._name} failed: {error!r}")
