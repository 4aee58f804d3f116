"""PolicyEngine API v1's US routes, answered by Fiscus's own services.

A v1 client changes its base URL and sends its Fiscus key (`Authorization: Bearer`);
the request and answer bodies are v1's: `{status, message, result}`, errors as
`{status: "error", message, result: null}` with v1's status codes. Each route calls
the Fiscus route that computes the same thing (README, "PolicyEngine API v1 routes"):

- `POST /us/calculate {household, policy?}` is `POST /api/v1/households/calculate`
  with only the household's `null`s calculated, as v1 does;
- `POST /us/policy {data, label?}` stores a public policy (v1's policies are readable by
  anyone with the id), one per content; `GET /us/policy/{id}` reads one;
- `GET /us/metadata` is the policy service's document of the same name, streamed as it
  comes (gzip when the client accepts it);
- `GET /us/economy/...` is in policyengine_v1_economy.py.

Policy ids are Fiscus's (UUIDs), not v1's integers.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from services.gateway.api.guard import CurrentPrincipal, PublicRoute
from services.gateway.api.schemas import V1Calculate, V1PolicyCreate
from services.gateway.api.upstream import on_behalf_of, send
from services.gateway.domain.auth import Principal
from shared.settings import ServiceName, Settings

COUNTRY = "us"
# v1 answers bad input with 400 where Fiscus says 422.
V1_STATUS = {422: 400}

router = APIRouter(
    prefix=f"/{COUNTRY}", tags=["policyengine-v1"], route_class=PublicRoute, include_in_schema=False
)


def v1_ok(result: Any, status: int = 200, message: str | None = None) -> JSONResponse:
    return JSONResponse({"status": "ok", "message": message, "result": result}, status)


def v1_error(answer: httpx.Response) -> JSONResponse:
    """A Fiscus problem as v1 answers an error, keeping the fields it names."""
    try:
        problem = answer.json()
    except ValueError:
        problem = {"detail": answer.text}
    body: dict[str, Any] = {
        "status": "error",
        "message": problem.get("detail") or problem.get("title"),
        "result": None,
    }
    if problem.get("errors"):
        body["errors"] = problem["errors"]
    return JSONResponse(body, V1_STATUS.get(answer.status_code, answer.status_code))


async def internal(
    request: Request,
    principal: Principal,
    service: ServiceName,
    method: str,
    path: str,
    *,
    stream: bool = False,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """A call to a Fiscus service on behalf of the caller, as the proxy would forward it."""
    settings: Settings = request.app.state.settings
    client: httpx.AsyncClient = request.app.state.http
    call = client.build_request(
        method,
        settings.service_url(service) + path,
        headers={**on_behalf_of(principal), **(headers or {})},
        **kwargs,
    )
    return await send(client, call, service, stream=stream)


@router.post("/calculate", summary="PolicyEngine API v1: calculate a household")
async def calculate(
    body: V1Calculate, request: Request, principal: CurrentPrincipal
) -> JSONResponse:
    answer = await internal(
        request,
        principal,
        "simulation",
        "POST",
        "/api/v1/households/calculate",
        json={"household": body.household, "policy": body.policy or None, "variables": []},
    )
    if answer.status_code != 200:
        return v1_error(answer)
    return v1_ok(answer.json()["household"])


@router.post("/policy", summary="PolicyEngine API v1: store a policy (public, one per content)")
async def create_policy(
    body: V1PolicyCreate, request: Request, principal: CurrentPrincipal
) -> JSONResponse:
    stored = {
        "name": body.label or "Untitled policy",
        "data": body.data,
        "visibility": "public",
    }
    answer = await internal(request, principal, "policy", "POST", "/api/v1/policies", json=stored)
    if answer.status_code not in (200, 201):
        return v1_error(answer)
    existing = answer.status_code == 200
    return v1_ok(
        {"policy_id": answer.json()["id"]},
        answer.status_code,
        "Policy already exists" if existing else "Policy created",
    )


@router.get("/policy/{policy_id}", summary="PolicyEngine API v1: a stored policy")
async def get_policy(policy_id: str, request: Request, principal: CurrentPrincipal) -> JSONResponse:
    answer = await internal(request, principal, "policy", "GET", f"/api/v1/policies/{policy_id}")
    if answer.status_code != 200:
        return v1_error(answer)
    policy = answer.json()
    return v1_ok(
        {
            "id": policy["id"],
            "country_id": COUNTRY,
            "label": policy["name"],
            "api_version": model_version(),
            "policy_json": policy["data"],
            "policy_hash": policy["sha256"],
        }
    )


def model_version() -> str:
    """The policyengine-us version Fiscus runs: v1's `api_version` of a policy."""
    try:
        return importlib.metadata.version("policyengine-us")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@router.get("/metadata", summary="PolicyEngine API v1: parameters, variables, entities, options")
async def metadata(request: Request, principal: CurrentPrincipal) -> Response:
    encoding = {"accept-encoding": request.headers.get("accept-encoding", "")}
    answer = await internal(
        request, principal, "policy", "GET", "/us/metadata", stream=True, headers=encoding
    )
    if answer.status_code != 200:
        await answer.aread()
        await answer.aclose()
        return v1_error(answer)
    kept = ("content-type", "content-encoding", "content-length", "vary")
    return StreamingResponse(
        answer.aiter_raw(),
        headers={k: v for k, v in answer.headers.items() if k.lower() in kept},
        background=BackgroundTask(answer.aclose),
    )
