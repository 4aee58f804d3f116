"""Gateway routing, authentication and OpenAPI composition."""

from __future__ import annotations

import pytest

from services.gateway.domain.auth import authenticate, bearer_token
from services.gateway.domain.openapi import merge_documents
from services.gateway.domain.routing import owner_of


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/v1/datasets", "dataset"),
        ("/api/v1/datasets/abc/download", "dataset"),
        ("/api/v1/policies/p1", "policy"),
        ("/api/v1/simulations", "simulation"),
        ("/api/v1/simulations/s1", "simulation"),
        ("/api/v1/simulations/s1/report", "aggregation"),
        ("/api/v1/simulations/s1/report/extra", "simulation"),
        ("/api/v1/simulations/s1/results", "aggregation"),
        ("/api/v1/simulations/s1/aggregates", "aggregation"),
        ("/api/v1/simulations/s1/charts/decile.png", "aggregation"),
        ("/api/v1/simulations/s1/charts/a/b.png", "simulation"),
        ("/api/v1/unknown", None),
        ("/api/v1/datasetsx", None),
    ],
)
def test_owner_of(path: str, service: str | None) -> None:
    assert owner_of(path) == service


def test_bearer_token() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None


def test_authenticate_admin_key_only() -> None:
    admin = authenticate("secret-key", "secret-key")
    assert admin is not None and admin.role == "admin"
    assert authenticate("other", "secret-key") is None
    assert authenticate(None, "secret-key") is None
    # With no admin key configured nobody gets in, not even with an empty token.
    assert authenticate("", None) is None
    assert authenticate("anything", "") is None


def test_merge_documents_takes_public_paths_and_requires_the_key() -> None:
    base = {"openapi": "3.1.0", "info": {"title": "Fiscus"}, "paths": {}}
    upstream = [
        {
            "paths": {
                "/api/v1/policies": {"post": {"responses": {"201": {}}}},
                "/healthz": {"get": {}},
            },
            "components": {"schemas": {"PolicyIn": {"type": "object"}}},
        },
        {},
    ]
    document = merge_documents(base, upstream)
    assert list(document["paths"]) == ["/api/v1/policies"]
    operation = document["paths"]["/api/v1/policies"]["post"]
    assert operation["security"] == [{"apiKey": []}]
    assert "401" in operation["responses"]
    assert document["components"]["schemas"]["PolicyIn"] == {"type": "object"}
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert base["paths"] == {}
