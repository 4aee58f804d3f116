"""Calls from the gateway to the services behind it, and what their failures answer."""

from __future__ import annotations

import httpx

from shared.problems import ProblemError
from shared.settings import ServiceName


async def send(
    client: httpx.AsyncClient, request: httpx.Request, service: ServiceName, *, stream: bool
) -> httpx.Response:
    """The service's answer; 504 when it does not answer in time, 503 when unreachable."""
    try:
        return await client.send(request, stream=stream)
    except httpx.TimeoutException as exc:
        raise ProblemError(
            504, "Gateway Timeout", f"the {service} service did not answer in time"
        ) from exc
    except httpx.TransportError as exc:
        raise ProblemError(
            503,
            "Service Unavailable",
            f"the {service} service is unreachable; try again shortly",
            kind="unavailable",
        ) from exc
