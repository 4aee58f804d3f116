"""Public policies through the gateway, on the real policy, dataset and simulation services.

A policy made public by its owner is found, read and simulated by anyone and changed
only by its owner; public policies are one per content, as in PolicyEngine's policy
store. The simulation service learns a policy's visibility from `policy.created` and
`policy.visibility.changed` on the real broker.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.settings import Settings
from tests.problems import assert_problem
from tests.service.access_fixtures import synthetic_dataset
from tests.service.bus import event_tap
from tests.service.gateway_fixtures import bearer, issue_key

pytestmark = pytest.mark.slow
PATH = "/api/v1/policies"
CTC = "gov.irs.credits.ctc.amount.base[0].amount"


def reform(amount: int) -> dict[str, Any]:
    return {CTC: {"2026-01-01.2100-12-31": amount}}


async def create(
    gateway: httpx.AsyncClient, headers: dict[str, str], status: int = 201, **body: Any
) -> dict[str, Any]:
    answer = await gateway.post(PATH, json=body, headers=headers)
    assert answer.status_code == status, answer.text
    created: dict[str, Any] = answer.json()
    assert answer.headers["location"] == f"{PATH}/{created['id']}"
    return created


async def listed(gateway: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[str]:
    answer = await gateway.get(PATH, params={"limit": 100, **params}, headers=headers)
    assert answer.status_code == 200, answer.text
    return [policy["id"] for policy in answer.json()["items"]]


async def change(
    gateway: httpx.AsyncClient, headers: dict[str, str], policy_id: str, **body: Any
) -> httpx.Response:
    return await gateway.patch(
        f"{PATH}/{policy_id}", json=body, headers={**headers, "If-Match": "*"}
    )


async def simulation_answer(
    gateway: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str], status: int
) -> httpx.Response:
    """The answer to a simulation request once the simulation service's projection has
    caught up with the policy's events: `status` (202 or 422), within about ten seconds."""
    for _ in range(40):
        answer = await gateway.post("/api/v1/simulations", json=body, headers=headers)
        if answer.status_code == status:
            return answer
        await asyncio.sleep(0.25)
    raise AssertionError(f"never {status}: {answer.status_code} {answer.text}")


async def test_a_public_policy_is_everyones_to_find_read_and_simulate_and_its_owners_to_change(
    policy_gateway: httpx.AsyncClient, migrated: Settings
) -> None:
    gateway = policy_gateway
    owner_key = await issue_key(gateway)
    owner, other = bearer(owner_key), bearer(await issue_key(gateway))
    shared = await create(
        gateway,
        owner,
        name="Child credit 4100",
        description="A bigger child tax credit for everyone",
        data=reform(4100),
        visibility="public",
    )
    assert (shared["visibility"], shared["owner"]) == ("public", owner_key["id"])
    path = f"{PATH}/{shared['id']}"
    assert (await gateway.get(path, headers=other)).json()["data"] == reform(4100)
    found = await listed(gateway, other, visibility="public", search="BIGGER child")
    assert found == [shared["id"]]
    assert await listed(gateway, other, visibility="public", search="bigger adult") == []
    assert shared["id"] not in await listed(gateway, other)
    assert shared["id"] in await listed(gateway, owner, visibility="public")
    assert_problem(await change(gateway, other, shared["id"], name="mine now"), 403)
    assert_problem(await gateway.delete(path, headers={**other, "If-Match": "*"}), 403)

    dataset = await synthetic_dataset(gateway, other, seed=31)
    request = {"dataset_id": dataset["id"], "policy_id": shared["id"], "year": 2026}
    accepted = await simulation_answer(gateway, request, other, 202)
    assert accepted.json()["policy_id"] == shared["id"]

    async with event_tap(migrated.amqp_url, "policy.visibility.changed") as tap:
        made_private = await change(gateway, owner, shared["id"], visibility="private")
        assert made_private.status_code == 200, made_private.text
        assert made_private.json()["visibility"] == "private"
        event = (await tap.message_about(shared["id"])).body
    assert b'"visibility":"private"' in event.replace(b" ", b"")
    assert_problem(await gateway.get(path, headers=other), 404)
    assert shared["id"] not in await listed(gateway, other, visibility="public")
    later = {**request, "year": 2027}
    refused = assert_problem(await simulation_answer(gateway, later, other, 422), 422)
    assert refused["errors"][0]["field"] == "policy_id"
    # The simulation accepted while it was public stays the caller's.
    kept = await gateway.get(f"/api/v1/simulations/{accepted.json()['id']}", headers=other)
    assert kept.status_code == 200

    assert (await change(gateway, owner, shared["id"], visibility="public")).status_code == 200
    await simulation_answer(gateway, later, other, 202)


async def test_public_policies_are_one_per_content(
    policy_gateway: httpx.AsyncClient, admin_connection: AsyncConnection
) -> None:
    gateway = policy_gateway
    first, second = bearer(await issue_key(gateway)), bearer(await issue_key(gateway))
    data = reform(4200)
    shared = await create(gateway, first, name="one", data=data, visibility="public")
    count = sa.text("SELECT count(*) FROM policy.policies WHERE sha256 = :sha256")
    outbox = sa.text("SELECT count(*) FROM policy.outbox")
    before = await admin_connection.scalar(outbox)
    # The same content, written otherwise (3000.0 is 3000): the public one is the answer.
    again = await create(
        gateway,
        second,
        status=200,
        name="two",
        data={CTC: {"2026-01-01.2100-12-31": 4200.0}},
        visibility="public",
    )
    assert (again["id"], again["name"], again["owner"]) == (shared["id"], "one", shared["owner"])
    assert await admin_connection.scalar(count, {"sha256": shared["sha256"]}) == 1
    assert await admin_connection.scalar(outbox) == before
    # A private copy is the caller's own; it cannot be made public beside the first.
    private = await create(gateway, second, name="my copy", data=data)
    assert private["id"] != shared["id"] and private["visibility"] == "private"
    conflict = assert_problem(
        await change(gateway, second, private["id"], visibility="public"), 409
    )
    assert conflict["errors"] == [
        {"field": "visibility", "message": f"policy {shared['id']} is public"}
    ]
    # Once the first is deleted, the copy may be the public one.
    etag = (await gateway.get(f"{PATH}/{shared['id']}", headers=first)).headers["etag"]
    deleted = await gateway.delete(f"{PATH}/{shared['id']}", headers={**first, "If-Match": etag})
    assert deleted.status_code == 204
    assert (await change(gateway, second, private["id"], visibility="public")).status_code == 200


async def test_search_takes_words_literally(policy_gateway: httpx.AsyncClient) -> None:
    gateway = policy_gateway
    owner = bearer(await issue_key(gateway))
    literal = await create(
        gateway, owner, name="Credit at 100% for all_ages", data=reform(4301), visibility="public"
    )
    await create(
        gateway, owner, name="Credit at 1000 for allXages", data=reform(4302), visibility="public"
    )
    assert await listed(gateway, owner, visibility="public", search="100% all_ages") == [
        literal["id"]
    ]
    problem = assert_problem(
        await gateway.get(PATH, params={"visibility": "everyone"}, headers=owner), 422
    )
    assert problem["errors"][0]["field"].endswith("visibility")
