"""Resources another service answers for a simulation: visible to whoever sees it.

The aggregation service keeps reports, results and aggregates of simulations but not
who requested them; the simulation service knows. Before forwarding such a path the
gateway asks the simulation service whether the caller sees the simulation, so that
another caller's report is a 404 like the simulation itself.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx

from services.gateway.api.upstream import on_behalf_of
from services.gateway.domain.auth import Principal
from shared.problems import ProblemError, not_found
from shared.settings import ServiceName, Settings

_OF_SIMULATION = re.compile(r"^/api/v1/simulations/([^/]+)/.+$")


def simulation_of(path: str, service: ServiceName) -> str | None:
    """The simulation whose visibility a path forwarded to `service` depends on."""
    if service != "aggregation":
        return None
    match = _OF_SIMULATION.match(path)
    return match.group(1) if match else None


async def require_visible_simulation(
    client: httpx.AsyncClient, settings: Settings, principal: Principal, simulation_id: str
) -> None:
    """404 unless the caller sees the simulation; 503 when that cannot be known."""
    url = settings.service_url("simulation") + "/api/v1/simulations/" + quote(simulation_id, "")
    try:
        answer = await client.get(url, headers=on_behalf_of(principal))
    except httpx.HTTPError as exc:
        raise ProblemError(
            503,
            "Service Unavailable",
            "the simulation service is unreachable; try again shortly",
            kind="unavailable",
        ) from exc
    if answer.status_code == 404:
        raise not_found("simulation", simulation_id)
    if answer.status_code != 200:
        raise ProblemError(
            503,
            "Service Unavailable",
            f"the simulation service answered {answer.status_code}; try again shortly",
            kind="unavailable",
        )
