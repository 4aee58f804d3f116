"""The public `/api/v1` routes the services answer: forwarded to the owning service.

`PublicRoute` has authenticated the caller and applied limits and idempotency first.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
from fastapi import APIRouter, Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from services.gateway.api.guard import CurrentPrincipal, PublicRoute
from services.gateway.api.ownership import require_visible_simulation, simulation_of
from services.gateway.api.upstream import on_behalf_of, send
from services.gateway.domain.routing import owner_of
from shared.problems import ProblemError
from shared.settings import Settings

# Headers a client may send on to a service, and a service may send back.
FORWARDED_REQUEST_HEADERS = ("content-type", "accept", "if-match", "if-none-match")
FORWARDED_RESPONSE_HEADERS = (
    "content-type",
    "location",
    "content-disposition",
    "etag",
    "retry-after",
    "x-content-sha256",
    "fiscus-simulations-accepted",
)
HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
# Characters a path keeps as they are when forwarded; the rest (control characters,
# non-ASCII) is percent-encoded again, as the client had to send it.
PATH_SAFE = "/:@!$&'()*+,;=-._~[]"


router = APIRouter(prefix="/api/v1", include_in_schema=False, route_class=PublicRoute)


@router.api_route("/{path:path}", methods=HTTP_METHODS)
async def forward(path: str, request: Request, principal: CurrentPrincipal) -> Response:
    full_path = f"/api/v1/{path}"
    service = owner_of(full_path)
    if service is None:
        raise ProblemError(404, "Not Found", f"no resource at {full_path}", kind="not-found")
    settings: Settings = request.app.state.settings
    client: httpx.AsyncClient = request.app.state.http
    simulation_id = simulation_of(full_path, service)
    if simulation_id is not None:
        await require_visible_simulation(client, settings, principal, simulation_id)
    headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED_REQUEST_HEADERS}
    headers.update(on_behalf_of(principal))
    upstream = client.build_request(
        request.method,
        settings.service_url(service) + quote(full_path, safe=PATH_SAFE),
        params=request.query_params,
        headers=headers,
        content=await request.body(),
    )
    answer = await send(client, upstream, service, stream=True)
    response_headers = {
        k: v for k, v in answer.headers.items() if k.lower() in FORWARDED_RESPONSE_HEADERS
    }
    return StreamingResponse(
        answer.aiter_raw(),
        status_code=answer.status_code,
        headers=response_headers,
        background=BackgroundTask(answer.aclose),
    )
