"""PolicyEngine API v1's policy routes through the gateway, on the real policy service.

Requests are sent as v1's clients send them (`POST /us/policy {data, label}`,
`GET /us/policy/{id}`) and the answers checked against the same policy read through
Fiscus's own `/api/v1/policies`.
"""

from __future__ import annotations

import importlib.metadata

import httpx
import pytest

from tests.service.gateway_fixtures import bearer, issue_key

pytestmark = pytest.mark.slow
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


async def test_v1_metadata_describes_what_fiscus_metadata_routes_describe(
    policy_gateway: httpx.AsyncClient,
) -> None:
    gateway = policy_gateway
    caller = bearer(await issue_key(gateway, role="readonly"))
    answer = await gateway.get("/us/metadata", headers=caller, timeout=120)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-encoding"] == "gzip"
    body = answer.json()
    assert (body["status"], body["message"]) == ("ok", None)
    metadata = body["result"]
    assert set(metadata) == {
        "variables",
        "parameters",
        "entities",
        "variableModules",
        "economy_options",
        "current_law_id",
        "basicInputs",
        "modelled_policies",
        "version",
    }
    assert metadata["version"] == importlib.metadata.version("policyengine-us")
    assert metadata["current_law_id"] == 2

    parameter = (await gateway.get(f"/api/v1/parameters/{CTC}", headers=caller)).json()
    described = metadata["parameters"][CTC]
    assert (described["type"], described["unit"]) == ("parameter", parameter["unit"])
    assert described["values"] == {item["start"]: item["value"] for item in parameter["values"]}
    for name in ("age", "filing_status", "household_net_income"):
        variable = (await gateway.get(f"/api/v1/variables/{name}", headers=caller)).json()
        v1 = metadata["variables"][name]
        assert (v1["entity"], v1["valueType"], v1["definitionPeriod"], v1["unit"]) == (
            variable["entity"],
            variable["value_type"],
            variable["definition_period"],
            variable["unit"],
        )
    assert [v["value"] for v in metadata["variables"]["filing_status"]["possibleValues"]] == (
        (await gateway.get("/api/v1/variables/filing_status", headers=caller)).json()[
            "possible_values"
        ]
    )
    assert set(metadata["entities"]) == {
        "person", "tax_unit", "spm_unit", "family", "marital_unit", "household"
    }  # fmt: skip
    regions = [region["name"] for region in metadata["economy_options"]["region"]]
    assert regions[0] == "us" and "state/ca" in regions and len(regions) == 52
    assert {2025, 2035} <= {p["name"] for p in metadata["economy_options"]["time_period"]}
