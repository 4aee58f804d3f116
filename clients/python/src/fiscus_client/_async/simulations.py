"""Simulations, batches, their live events, reports, results, charts and aggregates."""

from __future__ import annotations

import io
import time
from asyncio import sleep
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from fiscus_client._async.base import AsyncBase
from fiscus_client._async.jobs import AsyncSimulationJob
from fiscus_client.events import aevents_of, is_final
from fiscus_client.models import Aggregate, Page, Report, Simulation, SimulationEvent
from fiscus_client.transport import (
    STREAM_READ_TIMEOUT,
    FiscusError,
    batch_items,
    error_of,
    simulation_event,
    without_none,
)

if TYPE_CHECKING:
    import pandas as pd


class AsyncSimulations(AsyncBase):
    """Society-wide simulations and what they produce."""

    async def simulate(
        self,
        dataset_id: str,
        policy_id: str,
        year: int | None = None,
        *,
        baseline_policy_id: str | None = None,
        **options: Any,
    ) -> AsyncSimulationJob:
        """Ask for a society-wide simulation; `.wait()` on the answer follows it to the end.

        `options` are the request's other fields, e.g. `years` (a budget window, instead
        of `year`), `region` (a state's postal code) or `outputs`.
        """
        body = without_none(
            {
                "dataset_id": dataset_id,
                "policy_id": policy_id,
                "baseline_policy_id": baseline_policy_id,
                "year": year,
                **options,
            }
        )
        state = await self._one(Simulation, "POST", "/api/v1/simulations", json=body)
        return AsyncSimulationJob(self, state.id, state)

    async def submit_batch(self, simulations: Sequence[dict[str, Any]]) -> list[AsyncSimulationJob]:
        """Submit many simulations in one request; each runs as if submitted alone."""
        answer = await self.request(
            "POST", "/api/v1/simulations/batch", json={"simulations": list(simulations)}
        )
        return [AsyncSimulationJob(self, state.id, state) for state in batch_items(answer)]

    def simulation(self, simulation_id: str) -> AsyncSimulationJob:
        """A handle on an existing simulation."""
        return AsyncSimulationJob(self, simulation_id)

    async def get_simulation(self, simulation_id: str) -> Simulation:
        """A simulation's status and, once done, its results."""
        return await self._one(Simulation, "GET", f"/api/v1/simulations/{simulation_id}")

    async def list_simulations(
        self, *, status: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> Page[Simulation]:
        """Simulations, newest first, optionally of one status."""
        return await self._page(
            Simulation, "/api/v1/simulations", status=status, limit=limit, cursor=cursor
        )

    async def cancel_simulation(self, simulation_id: str) -> Simulation:
        """Cancel a queued or running simulation."""
        return await self._one(Simulation, "POST", f"/api/v1/simulations/{simulation_id}/cancel")

    async def wait_for_simulation(
        self, simulation_id: str, *, timeout: float = 1800.0, interval: float = 1.0
    ) -> Simulation:
        """Ask for the simulation's state until it has finished; its last state.

        Polls `get_simulation` every `interval` seconds (a job's `wait` follows the live
        stream instead); TimeoutError once `timeout` seconds have passed.
        """
        deadline = time.monotonic() + timeout
        while True:
            simulation = await self.get_simulation(simulation_id)
            if simulation.finished:
                return simulation
            if time.monotonic() > deadline:
                raise TimeoutError(f"simulation {simulation_id} still {simulation.status}")
            await sleep(interval)

    async def stream_events(
        self, simulation_id: str, *, timeout: float = 3600.0
    ) -> AsyncIterator[SimulationEvent]:
        """The simulation's live events until its final one; reconnects when cut off."""
        deadline = time.monotonic() + timeout
        last_id: str | None = None
        while True:
            headers = {"Accept": "text/event-stream"}
            if last_id is not None:
                headers["Last-Event-ID"] = last_id
            try:
                async with self._http.stream(
                    "GET",
                    f"/api/v1/simulations/{simulation_id}/events",
                    headers=headers,
                    timeout=httpx.Timeout(STREAM_READ_TIMEOUT, connect=10.0),
                ) as answer:
                    if answer.status_code >= 400:
                        await answer.aread()
                        raise error_of(answer)
                    async for sse in aevents_of(answer):
                        last_id = sse.id or last_id
                        yield simulation_event(sse.event, sse.json())
                        if is_final(sse):
                            return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"simulation {simulation_id} did not end in time")
            await sleep(1.0)

    async def get_report(self, simulation_id: str) -> Report:
        """The impact report of a completed simulation (FiscusError 404 until ready)."""
        return await self._one(Report, "GET", f"/api/v1/simulations/{simulation_id}/report")

    async def wait_for_report(
        self, simulation_id: str, *, timeout: float = 300.0, interval: float = 0.5
    ) -> Report:
        """The report, once the aggregation service has built it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return await self.get_report(simulation_id)
            except FiscusError as exc:
                if exc.status != 404 or time.monotonic() > deadline:
                    raise
            await sleep(interval)

    async def get_results(self, simulation_id: str, *, year: int | None = None) -> pd.DataFrame:
        """The household-level results as a pandas DataFrame: every stored household
        column, baseline and reform, one row per household (a budget window's `year`)."""
        import pandas as pd

        data = await self._bytes(f"/api/v1/simulations/{simulation_id}/results", year=year)
        return pd.read_parquet(io.BytesIO(data))

    async def download_results(
        self, simulation_id: str, target: Path, *, year: int | None = None
    ) -> Path:
        """Save the results' Parquet file to `target` (a file, or a folder); the file."""
        path = f"/api/v1/simulations/{simulation_id}/results"
        return await self._save(path, Path(target), year=year)

    async def get_chart(
        self, simulation_id: str, chart: str, *, fmt: str = "svg", year: int | None = None
    ) -> bytes:
        """A chart of the report (`decile`, `winners`, `poverty`, `budget`) as SVG or PNG."""
        path = f"/api/v1/simulations/{simulation_id}/charts/{chart}.{fmt}"
        return await self._bytes(path, year=year)

    async def aggregate(
        self,
        simulation_id: str,
        variable: str,
        stat: str,
        *,
        entity: str = "household",
        q: float | None = None,
        filter: Sequence[dict[str, Any]] = (),
        group_by: str | None = None,
        policy: str = "reform",
        year: int | None = None,
    ) -> Aggregate:
        """A weighted statistic (`sum`, `mean`, `median`, `count`, or `quantile` with `q`)
        of a stored result column, under the `policy` (`baseline`, `reform`, `change`),
        over the rows that pass every `filter` condition, optionally per `group_by` value."""
        body = without_none(
            {
                "variable": variable,
                "entity": entity,
                "stat": stat,
                "q": q,
                "filter": list(filter),
                "group_by": group_by,
                "policy": policy,
                "year": year,
            }
        )
        path = f"/api/v1/simulations/{simulation_id}/aggregates"
        return await self._one(Aggregate, "POST", path, json=body)
