"""The gateway's public OpenAPI document, composed as the gateway composes it.

Built in process from the services' own documents: no service runs, nothing connects.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from fastapi.openapi.utils import get_openapi

from services.gateway.domain.openapi import merge_documents
from services.gateway.domain.openapi_examples import add_examples
from shared.settings import Settings

SERVICE_APPS = (
    "services.dataset.main:create_app",
    "services.policy.main:create_app",
    "services.simulation.main:create_app",
    "services.aggregation.main:create_app",
    "services.webhooks.main:create_app",
)
METHODS = ("get", "put", "post", "patch", "delete")


@cache
def composed() -> dict[str, Any]:
    """The document `GET /openapi.json` answers."""
    from services.gateway.main import create_app as create_gateway

    settings = Settings.model_construct()
    gateway = create_gateway(settings)
    base = get_openapi(
        title=gateway.title,
        version=gateway.version,
        description=gateway.description,
        routes=gateway.routes,
    )
    upstream = []
    for target in SERVICE_APPS:
        module, factory = target.split(":")
        upstream.append(getattr(importlib.import_module(module), factory)(settings).openapi())
    return add_examples(merge_documents(base, upstream))


def published_operations() -> set[tuple[str, str]]:
    """Every (METHOD, path template) of the document."""
    return {
        (method.upper(), path)
        for path, methods in composed()["paths"].items()
        for method in methods
        if method in METHODS
    }
