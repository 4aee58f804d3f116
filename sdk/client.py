"""The first, untyped client: every method returns the decoded JSON (see `sdk.fiscus`)."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Self

import httpx

from sdk.transport import FiscusError

FINISHED = ("completed", "failed", "cancelled")


class FiscusClient:
    """Calls the gateway with an API key; every method returns the decoded JSON."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 120.0) -> None:
        """Connect to the gateway at `base_url` with `api_key`."""
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying connections."""
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self._http.request(method, path, **kwargs)
        if answer.status_code >= 400:
            try:
                problem = answer.json()
            except ValueError:
                problem = {"title": answer.reason_phrase, "detail": answer.text[:500]}
            raise FiscusError(answer.status_code, problem)
        return answer.json()

    def create_synthetic_dataset(
        self, name: str, households: int, *, seed: int = 0, year: int = 2025
    ) -> dict[str, Any]:
        """Generate and register the built-in synthetic US population."""
        body = {"name": name, "households": households, "seed": seed, "year": year}
        return dict(self._call("POST", "/api/v1/datasets/synthetic", json=body))

    def get_dataset(self, dataset_id: str) -> dict[str, Any]:
        """A dataset's metadata."""
        return dict(self._call("GET", f"/api/v1/datasets/{dataset_id}"))

    def create_policy(self, name: str, data: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Store a reform given in PolicyEngine's format."""
        return dict(self._call("POST", "/api/v1/policies", json={"name": name, "data": data}))

    def create_simulation(
        self,
        dataset_id: str,
        policy_id: str,
        year: int,
        baseline_policy_id: str | None = None,
    ) -> dict[str, Any]:
        """Ask for a society-wide simulation; it runs in the background."""
        body = {
            "dataset_id": dataset_id,
            "policy_id": policy_id,
            "baseline_policy_id": baseline_policy_id,
            "year": year,
        }
        return dict(self._call("POST", "/api/v1/simulations", json=body))

    def get_simulation(self, simulation_id: str) -> dict[str, Any]:
        """A simulation's status and, once done, its results."""
        return dict(self._call("GET", f"/api/v1/simulations/{simulation_id}"))

    def wait_for_simulation(
        self, simulation_id: str, *, timeout: float = 1800, interval: float = 1.0
    ) -> dict[str, Any]:
        """Poll until the simulation has finished; returns its last state."""
        deadline = time.monotonic() + timeout
        while True:
            simulation = self.get_simulation(simulation_id)
            if simulation["status"] in FINISHED:
                return simulation
            if time.monotonic() > deadline:
                raise TimeoutError(f"simulation {simulation_id} still {simulation['status']}")
            time.sleep(interval)

    def get_report(self, simulation_id: str) -> dict[str, Any]:
        """The impact report of a completed simulation (FiscusError 404 until ready)."""
        return dict(self._call("GET", f"/api/v1/simulations/{simulation_id}/report"))

    def wait_for_report(
        self, simulation_id: str, *, timeout: float = 300, interval: float = 0.5
    ) -> dict[str, Any]:
        """Poll until the report of a completed simulation is ready."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.get_report(simulation_id)
            except FiscusError as exc:
                if exc.status != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(interval)
