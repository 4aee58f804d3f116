"""The public OpenAPI document, composed from the services' own documents."""

from __future__ import annotations

import copy
from typing import Any

BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key, or a JWT where the gateway is configured to accept them.",
}


def merge_documents(base: dict[str, Any], upstream: list[dict[str, Any]]) -> dict[str, Any]:
    """Add every `/api/v1` path and schema of the upstream documents to `base`.

    Every `/api/v1` operation requires the bearer key.
    """
    document = copy.deepcopy(base)
    paths: dict[str, Any] = document.setdefault("paths", {})
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for spec in upstream:
        for path, operations in spec.get("paths", {}).items():
            if not path.startswith("/api/v1/"):
                continue
            merged = paths.setdefault(path, {})
            for method, operation in operations.items():
                operation = copy.deepcopy(operation)
                operation["security"] = [{"apiKey": []}]
                responses = operation.setdefault("responses", {})
                responses.setdefault("401", {"description": "Missing or wrong API key"})
                merged[method] = operation
        schemas.update(copy.deepcopy(spec.get("components", {}).get("schemas", {})))
    document["components"].setdefault("securitySchemes", {})["apiKey"] = BEARER_SCHEME
    return document
