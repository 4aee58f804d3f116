"""PolicyEngine API v1's policy routes through the gateway, on the real policy service.

Requests are sent as v1's clients send them (`POST /us/policy {data, label}`,
`GET /us/policy/{id}`) and the answers checked against the same policy read through
Fiscus's own `/api/v1/policies`.
"""

from __future__ import annotations

import importlib.metadata

import httpx
import pytest

from tests.service.access_fixtures import policy_gateway
from tests.service.gateway_fixtures import bearer, issue_key, redis_prefix

pytestmark = pytest.mark.slow
# Fixtures are looked up by name in the test module, so they are imported here.
__all__ = ["policy_gateway", "redis_prefix"]

CTC = "gov.irs.credits.ctc.amount.base[0].amount"
REFORM = {CTC: {"2026-01-01.2100-12-31": 4500}}


async def test_a_v1_policy_is_stored_once_per_content_and_read_back_in_v1s_shape(
    policy_gateway: httpx.AsyncClient,
) -> None:
    gateway = policy_gateway
    first, second = bearer(await issue_key(gateway)), bearer(await issue_key(gateway))
    created = await gateway.post(
        "/us/policy", json={"data": REFORM, "label": "CTC 4500"}, headers=first
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["status"], body["message"]) == ("ok", "Policy created")
    policy_id = body["result"]["policy_id"]
    again = await gateway.post("/us/policy", json={"data": REFORM}, headers=second)
    assert again.status_code == 200, again.text
    assert again.json() == {
        "status": "ok",
        "message": "Policy already exists",
        "result": {"policy_id": policy_id},
    }

    fiscus = (await gateway.get(f"/api/v1/policies/{policy_id}", headers=second)).json()
    read = await gateway.get(f"/us/policy/{policy_id}", headers=second)
    assert read.status_code == 200, read.text
    assert read.json() == {
        "status": "ok",
        "message": None,
        "result": {
            "id": policy_id,
            "country_id": "us",
            "label": "CTC 4500",
            "api_version": importlib.metadata.version("policyengine-us"),
            "policy_json": fiscus["data"],
            "policy_hash": fiscus["sha256"],
        },
    }
    assert fiscus["visibility"] == "public" and fiscus["data"] == REFORM


async def test_v1_errors_are_v1s(policy_gateway: httpx.AsyncClient) -> None:
    gateway = policy_gateway
    caller = bearer(await issue_key(gateway))
    invalid = await gateway.post(
        "/us/policy", json={"data": {"gov.no.such.parameter": {"2026-01-01": 1}}}, headers=caller
    )
    assert invalid.status_code == 400, invalid.text
    body = invalid.json()
    assert (body["status"], body["result"]) == ("error", None)
    assert body["errors"][0]["field"].endswith("gov.no.such.parameter"), body
    missing = await gateway.get("/us/policy/00000000-0000-0000-0000-000000000000", headers=caller)
    assert missing.status_code == 404
    assert missing.json()["status"] == "error" and "does not exist" in missing.json()["message"]
    unauthenticated = await gateway.get("/us/policy/00000000-0000-0000-0000-000000000000")
    assert unauthenticated.status_code == 401
