"""The typed asynchronous client: `AsyncFiscus(url, api_key)`, the twin of `sdk.fiscus.Fiscus`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
from rich.console import Console

from sdk.events import aevents_of, is_final
from sdk.fiscus import EventCallback, batch_items
from sdk.models import (
    ApiKey,
    Dataset,
    Page,
    Parameter,
    Policy,
    Report,
    Simulation,
    SimulationEvent,
    Variable,
)
from sdk.progress import SimulationProgressBar
from sdk.transport import (
    STREAM_READ_TIMEOUT,
    FiscusError,
    Model,
    auth_headers,
    decoded,
    error_of,
    resolve_config,
    simulation_event,
    without_none,
)


class AsyncFiscus:
    """A Fiscus gateway reached with one API key; every answer comes back as a typed object.

    `url` and `api_key` default to the environment variables FISCUS_URL and FISCUS_API_KEY.
    """

    def __init__(
        self, url: str | None = None, api_key: str | None = None, *, timeout: float = 120.0
    ) -> None:
        """Connect to the gateway at `url` with `api_key`."""
        self.url, api_key = resolve_config(url, api_key)
        self._http = httpx.AsyncClient(
            base_url=self.url, headers=auth_headers(api_key), timeout=timeout
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying connections."""
        await self._http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Any call to the API; the decoded JSON, or FiscusError for an error answer."""
        return decoded(await self._http.request(method, path, **kwargs))

    async def _one(self, model: type[Model], method: str, path: str, **kwargs: Any) -> Model:
        return model.model_validate(await self.request(method, path, **kwargs))

    async def _page(self, model: type[Model], path: str, **params: Any) -> Page[Model]:
        return Page[model].model_validate(  # type: ignore[valid-type]
            await self.request("GET", path, params=without_none(params))
        )

    # --- API keys -----------------------------------------------------------------------

    async def create_key(
        self,
        name: str,
        role: str = "user",
        *,
        rate_limit: str | None = None,
        daily_simulation_quota: int | None = None,
    ) -> ApiKey:
        """Issue an API key (admin only); its `secret` is in this answer only."""
        body = without_none(
            {
                "name": name,
                "role": role,
                "rate_limit": rate_limit,
                "daily_simulation_quota": daily_simulation_quota,
            }
        )
        return await self._one(ApiKey, "POST", "/api/v1/keys", json=body)

    async def list_keys(self, *, limit: int = 20, cursor: str | None = None) -> Page[ApiKey]:
        """API keys, newest first (a non-admin sees its own)."""
        return await self._page(ApiKey, "/api/v1/keys", limit=limit, cursor=cursor)

    async def get_key(self, key_id: str) -> ApiKey:
        """One API key, without its secret."""
        return await self._one(ApiKey, "GET", f"/api/v1/keys/{key_id}")

    async def revoke_key(self, key_id: str) -> None:
        """Revoke a key: it is refused from now on."""
        # Revoking is the same whatever the key's state: no ETag to compare with.
        await self.request("DELETE", f"/api/v1/keys/{key_id}", headers={"If-Match": "*"})

    # --- datasets -----------------------------------------------------------------------

    async def create_synthetic_dataset(
        self, name: str, households: int, *, seed: int = 0, year: int = 2025
    ) -> Dataset:
        """Generate and register the built-in synthetic US population."""
        body = {"name": name, "households": households, "seed": seed, "year": year}
        return await self._one(Dataset, "POST", "/api/v1/datasets/synthetic", json=body)

    async def upload_dataset(self, archive: Path, name: str, *, year: int | None = None) -> Dataset:
        """Upload a population: a zip of per-entity Parquet or CSV files, or a PolicyEngine
        HDF5 dataset (`year` picks one year of a multi-year file)."""
        kind = "application/zip" if archive.suffix == ".zip" else "application/octet-stream"
        with archive.open("rb") as file:
            return await self._one(
                Dataset,
                "POST",
                "/api/v1/datasets",
                data=without_none({"name": name, "year": None if year is None else str(year)}),
                files={"file": (archive.name, file, kind)},
            )

    async def list_datasets(self, *, limit: int = 20, cursor: str | None = None) -> Page[Dataset]:
        """Datasets, newest first."""
        return await self._page(Dataset, "/api/v1/datasets", limit=limit, cursor=cursor)

    async def get_dataset(self, dataset_id: str) -> Dataset:
        """A dataset's metadata."""
        return await self._one(Dataset, "GET", f"/api/v1/datasets/{dataset_id}")

    # --- policies -----------------------------------------------------------------------

    async def create_policy(
        self, name: str, data: dict[str, Any], *, description: str | None = None
    ) -> Policy:
        """Store a reform given in PolicyEngine's format (validated by the server)."""
        body = without_none({"name": name, "data": data, "description": description})
        return await self._one(Policy, "POST", "/api/v1/policies", json=body)

    async def list_policies(self, *, limit: int = 20, cursor: str | None = None) -> Page[Policy]:
        """Policies, newest first."""
        return await self._page(Policy, "/api/v1/policies", limit=limit, cursor=cursor)

    async def get_policy(self, policy_id: str) -> Policy:
        """One stored reform."""
        return await self._one(Policy, "GET", f"/api/v1/policies/{policy_id}")

    # --- simulations --------------------------------------------------------------------

    async def simulate(
        self,
        dataset_id: str,
        policy_id: str,
        year: int,
        *,
        baseline_policy_id: str | None = None,
        **options: Any,
    ) -> AsyncSimulationJob:
        """Ask for a society-wide simulation; `.wait()` on the answer follows it to the end."""
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

    async def submit_batch(self, simulations: list[dict[str, Any]]) -> list[AsyncSimulationJob]:
        """Submit many simulations in one request; each runs as if submitted alone."""
        answer = await self.request(
            "POST", "/api/v1/simulations/batch", json={"simulations": simulations}
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

        Polls `get_simulation` every `interval` seconds (`AsyncSimulationJob.wait` follows
        the live stream instead); TimeoutError once `timeout` seconds have passed.
        """
        deadline = time.monotonic() + timeout
        while True:
            simulation = await self.get_simulation(simulation_id)
            if simulation.finished:
                return simulation
            if time.monotonic() > deadline:
                raise TimeoutError(f"simulation {simulation_id} still {simulation.status}")
            await asyncio.sleep(interval)

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
            await asyncio.sleep(1.0)

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
            await asyncio.sleep(interval)

    # --- households and metadata --------------------------------------------------------

    async def calculate_household(
        self,
        household: dict[str, Any],
        *,
        policy: dict[str, Any] | None = None,
        policy_id: str | None = None,
        variables: list[str] | None = None,
    ) -> dict[str, Any]:
        """Calculate one household (PolicyEngine's household JSON) on warm workers.

        Under current law, a reform given as `policy`, or the stored policy `policy_id`;
        the answer holds the household with the calculated values in place.
        """
        body = without_none(
            {
                "household": household,
                "policy": policy,
                "policy_id": policy_id,
                "variables": variables,
            }
        )
        answer: dict[str, Any] = await self.request(
            "POST", "/api/v1/households/calculate", json=body
        )
        return answer

    async def search_parameters(
        self, search: str | None = None, *, limit: int = 20, cursor: str | None = None
    ) -> Page[Parameter]:
        """Parameters whose name, label or description contain every word of `search`."""
        return await self._page(
            Parameter, "/api/v1/parameters", search=search, limit=limit, cursor=cursor
        )

    async def get_parameter(self, name: str) -> Parameter:
        """One parameter with its values over time."""
        return await self._one(Parameter, "GET", f"/api/v1/parameters/{name}")

    async def search_variables(
        self, search: str | None = None, *, limit: int = 20, cursor: str | None = None
    ) -> Page[Variable]:
        """Variables whose name, label or documentation contain every word of `search`."""
        return await self._page(
            Variable, "/api/v1/variables", search=search, limit=limit, cursor=cursor
        )

    async def get_variable(self, name: str) -> Variable:
        """One variable's metadata."""
        return await self._one(Variable, "GET", f"/api/v1/variables/{name}")


class AsyncSimulationJob:
    """A simulation on the server: follow it, wait for it, read its report."""

    def __init__(
        self, client: AsyncFiscus, simulation_id: str, state: Simulation | None = None
    ) -> None:
        """A handle on `simulation_id`, reached through `client`."""
        self.id = simulation_id
        self.state = state
        self._client = client

    def __repr__(self) -> str:
        status = self.state.status if self.state else "unknown"
        return f"AsyncSimulationJob(id={self.id!r}, status={status!r})"

    async def refresh(self) -> Simulation:
        """The simulation's current state."""
        self.state = await self._client.get_simulation(self.id)
        return self.state

    def events(self, *, timeout: float = 3600.0) -> AsyncIterator[SimulationEvent]:
        """Its live events (Server-Sent Events) until the final one."""
        return self._client.stream_events(self.id, timeout=timeout)

    async def wait(
        self,
        *,
        progress: bool = True,
        timeout: float = 3600.0,
        on_event: EventCallback | None = None,
        console: Console | None = None,
    ) -> Simulation:
        """Follow the live stream until the simulation ends; its final state.

        Shows a progress bar on stderr unless `progress` is False; `on_event` is called
        with every event.
        """
        bar = SimulationProgressBar(self.id, console) if progress else None
        if bar is not None:
            bar.__enter__()
        try:
            async for event in self.events(timeout=timeout):
                if bar is not None:
                    bar.update(event)
                if on_event is not None:
                    on_event(event)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
        return await self.refresh()

    async def report(self, *, timeout: float = 300.0) -> Report:
        """The impact report, waiting for it to be built."""
        return await self._client.wait_for_report(self.id, timeout=timeout)

    async def cancel(self) -> Simulation:
        """Cancel the simulation."""
        self.state = await self._client.cancel_simulation(self.id)
        return self.state
