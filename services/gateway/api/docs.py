"""The composed OpenAPI document of the public API."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi

from services.gateway.domain.openapi import merge_documents
from services.gateway.domain.openapi_examples import add_examples
from services.gateway.domain.routing import UPSTREAMS
from shared.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


async def _upstream_documents(
    settings: Settings, client: httpx.AsyncClient
) -> list[dict[str, Any]]:
    async def fetch(service: str) -> dict[str, Any]:
        try:
            answer = await client.get(settings.service_url(service) + "/openapi.json", timeout=5)  # type: ignore[arg-type]
            answer.raise_for_status()
            document: dict[str, Any] = answer.json()
            return document
        except httpx.HTTPError as exc:
            log.warning("no OpenAPI document from %s: %s", service, exc)
            return {}

    return list(await asyncio.gather(*(fetch(service) for service in UPSTREAMS)))


@router.get("/openapi.json")
async def openapi(request: Request) -> dict[str, Any]:
    app: FastAPI = request.app
    base = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    upstream = await _upstream_documents(request.app.state.settings, request.app.state.http)
    return add_examples(merge_documents(base, upstream))
