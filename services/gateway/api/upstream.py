"""Calls from the gateway to the services behind it, and what their failures answer."""

from __future__ import annotations

import httpx

from services.gateway.domain.auth import Principal
from shared.logs import request_id_var
from shared.principals import PRINCIPAL_HEADER
from shared.problems import ProblemError
from shared.settings import ServiceName


def on_behalf_of(principal: Principal) -> dict[str, str]:
    """The headers that name the caller and the request to a service."""
    return {
        PRINCIPAL_HEADER: f"{principal.key_id}:{principal.role}",
        "x-request-id": request_id_var.get() or "",
    }


async def send(
    client: httpx.AsyncClient,
    request: httpx.Request,
    service: ServiceName,
    *,
    stream: bool = False,
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
