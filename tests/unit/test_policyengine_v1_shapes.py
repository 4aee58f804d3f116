"""PolicyEngine API v1's shapes as the gateway answers them: regions and errors."""

from __future__ import annotations

import json

import httpx
import pytest

from services.gateway.api.policyengine_v1 import v1_error
from services.gateway.api.policyengine_v1_economy import fiscus_region


@pytest.mark.parametrize(
    ("v1", "fiscus"),
    [("us", "us"), ("US", "us"), ("ca", "CA"), ("state/ny", "NY"), ("dc", "DC")],
)
def test_v1_regions_are_fiscus_regions(v1: str, fiscus: str) -> None:
    assert fiscus_region(v1) == fiscus


@pytest.mark.parametrize("v1", ["uk", "pr", "state/xx", "congressional_district/CA-01", ""])
def test_regions_fiscus_does_not_simulate_are_none(v1: str) -> None:
    assert fiscus_region(v1) is None


def test_a_problem_becomes_v1s_error_with_its_fields() -> None:
    problem = {
        "type": "urn:fiscus:problem:validation",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "household.people.you.age: unknown variable",
        "errors": [{"field": "household.people.you.age", "message": "unknown variable"}],
    }
    answer = v1_error(httpx.Response(422, json=problem))
    assert answer.status_code == 400
    assert json.loads(bytes(answer.body)) == {
        "status": "error",
        "message": problem["detail"],
        "result": None,
        "errors": problem["errors"],
    }
    missing = v1_error(httpx.Response(404, json={"title": "Not Found", "status": 404}))
    assert (missing.status_code, json.loads(bytes(missing.body))["message"]) == (404, "Not Found")
