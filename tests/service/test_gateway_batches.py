"""`POST /api/v1/simulations/batch` through the gateway, on the real services."""

from __future__ import annotations

from typing import Any

from shared.settings import Settings
from tests.problems import assert_problem
from tests.service.access_fixtures import Stack, known_policy
from tests.service.gateway_fixtures import ADMIN, bearer, issue_key

BATCH = "/api/v1/simulations/batch"


async def test_a_batch_submits_each_item_as_if_alone(
    stack: Stack, migrated: Settings, population: dict[str, Any]
) -> None:
    gateway = stack.gateway
    caller = bearer(await issue_key(gateway))
    reforms = [await known_policy(migrated.amqp_url) for _ in range(3)]
    items: list[dict[str, Any]] = [
        {"dataset_id": population["id"], "policy_id": policy_id, "year": 2025}
        for policy_id in reforms
    ]
    alone = await gateway.post("/api/v1/simulations", json=items[2], headers=caller)
    assert alone.status_code == 202, alone.text

    # The first reform twice: the second is answered with the first one's simulation.
    answer = await gateway.post(BATCH, json={"simulations": [*items, items[0]]}, headers=caller)
    assert answer.status_code == 202, answer.text
    result = answer.json()
    assert [item["index"] for item in result["items"]] == [0, 1, 2, 3]
    assert [item["status"] for item in result["items"]] == [202, 202, 200, 200]
    ids = [item["simulation"]["id"] for item in result["items"]]
    assert ids[2] == alone.json()["id"] and ids[3] == ids[0] and ids[0] != ids[1]
    assert (result["accepted"], result["existing"]) == (2, 2)
    assert answer.headers["fiscus-simulations-accepted"] == "2"
    for simulation_id, policy_id in zip(ids, [*reforms, reforms[0]], strict=True):
        read = await gateway.get(f"/api/v1/simulations/{simulation_id}", headers=caller)
        assert read.status_code == 200
        assert read.json()["status"] == "queued" and read.json()["policy_id"] == policy_id

    # Nothing new the second time: 200, every item an existing simulation.
    again = await gateway.post(BATCH, json={"simulations": items}, headers=caller)
    assert again.status_code == 200
    assert [item["simulation"]["id"] for item in again.json()["items"]] == ids[:3]
    assert again.json()["accepted"] == 0


async def test_invalid_items_are_named_by_index_and_nothing_is_submitted(
    stack: Stack, migrated: Settings, population: dict[str, Any]
) -> None:
    gateway = stack.gateway
    caller = bearer(await issue_key(gateway))
    policy_id = await known_policy(migrated.amqp_url)
    valid = {"dataset_id": population["id"], "policy_id": policy_id, "year": 2025}
    before = (await gateway.get("/api/v1/simulations", headers=caller)).json()["items"]

    malformed = await gateway.post(
        BATCH,
        json={
            "simulations": [
                valid,
                {"dataset_id": population["id"], "year": 2025},
                {**valid, "year": 1999},
            ]
        },
        headers=caller,
    )
    problem = assert_problem(malformed, 422)
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"simulations[1].policy_id", "simulations[2].year"}, problem

    unknown = await gateway.post(
        BATCH,
        json={"simulations": [valid, valid, {**valid, "dataset_id": "no-such-dataset"}]},
        headers=caller,
    )
    problem = assert_problem(unknown, 422)
    assert [e["field"] for e in problem["errors"]] == ["simulations[2].dataset_id"]
    assert (await gateway.get("/api/v1/simulations", headers=caller)).json()["items"] == before

    bodies: list[dict[str, Any]] = [
        {"simulations": []},
        {"simulations": [valid] * 101},
        {"items": [valid]},
    ]
    for body in bodies:
        assert_problem(await gateway.post(BATCH, json=body, headers=caller), 422)
    reader = bearer(await issue_key(gateway, role="readonly"))
    assert_problem(await gateway.post(BATCH, json={"simulations": [valid]}, headers=reader), 403)


async def test_the_quota_counts_each_new_simulation_and_no_existing_one(
    stack: Stack, migrated: Settings, population: dict[str, Any]
) -> None:
    gateway = stack.gateway
    caller = bearer(await issue_key(gateway, daily_simulation_quota=3))
    reforms = [await known_policy(migrated.amqp_url) for _ in range(5)]
    item = [{"dataset_id": population["id"], "policy_id": p, "year": 2025} for p in reforms]

    too_many = await gateway.post(BATCH, json={"simulations": item[:4]}, headers=caller)
    problem = assert_problem(too_many, 429)
    assert problem["type"] == "urn:fiscus:problem:quota-exhausted"
    two = await gateway.post(BATCH, json={"simulations": item[:2]}, headers=caller)
    assert two.status_code == 202 and two.json()["accepted"] == 2
    # Answered with existing simulations: 200, counted nothing.
    for _ in range(3):
        existing = await gateway.post("/api/v1/simulations", json=item[0], headers=caller)
        assert existing.status_code == 200
    # A batch needs room for all its items, since any may be new.
    assert_problem(await gateway.post(BATCH, json={"simulations": item[:2]}, headers=caller), 429)
    same = await gateway.post(BATCH, json={"simulations": item[:1]}, headers=caller)
    assert same.status_code == 200
    third = await gateway.post("/api/v1/simulations", json=item[2], headers=caller)
    assert third.status_code == 202
    assert_problem(await gateway.post("/api/v1/simulations", json=item[3], headers=caller), 429)
    assert_problem(await gateway.post(BATCH, json={"simulations": [item[4]]}, headers=caller), 429)
    # An admin's key has no quota here.
    admin = await gateway.post("/api/v1/simulations", json=item[3], headers=ADMIN)
    assert admin.status_code == 202
