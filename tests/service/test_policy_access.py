"""Policies through the gateway on the real policy service: owners, ETags, PATCH,
soft delete, filters and sorting."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.policy.main import create_app
from shared.settings import Settings
from tests.policy_fixtures import LOAD_TIMEOUT_SECONDS, US_PARAMETER_TREE
from tests.problems import assert_problem
from tests.service.access_fixtures import served
from tests.service.bus import event_tap
from tests.service.gateway_fixtures import (
    ADMIN,
    ADMIN_KEY,
    REDIS_PREFIX,
    bearer,
    issue_key,
    running_gateway,
)

pytestmark = pytest.mark.slow
PATH = "/api/v1/policies"
CTC = "gov.irs.credits.ctc.amount.base[0].amount"


@pytest.fixture(scope="module")
async def gateway(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    await asyncio.to_thread(US_PARAMETER_TREE.wait, LOAD_TIMEOUT_SECONDS)
    async with contextlib.AsyncExitStack() as running:
        port = await running.enter_async_context(
            served(create_app(migrated, parameter_tree=US_PARAMETER_TREE))
        )
        update = {"admin_api_key": ADMIN_KEY, "redis_key_prefix": REDIS_PREFIX, "policy_port": port}
        update["redis_timeout_seconds"] = 5.0
        settings = Settings.model_validate(migrated.model_copy(update=update).model_dump())
        yield await running.enter_async_context(running_gateway(settings))


async def create(
    gateway: httpx.AsyncClient, headers: dict[str, str], name: str, amount: int
) -> dict[str, Any]:
    body = {"name": name, "data": {CTC: {"2026-01-01.2100-12-31": amount}}}
    answer = await gateway.post(PATH, json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    assert answer.headers["etag"]
    created: dict[str, Any] = answer.json()
    return created


async def listed(gateway: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[str]:
    answer = await gateway.get(PATH, params={"limit": 100, **params}, headers=headers)
    assert answer.status_code == 200, answer.text
    return [policy["id"] for policy in answer.json()["items"]]


async def test_a_policy_is_its_owners(gateway: httpx.AsyncClient) -> None:
    owner_key = await issue_key(gateway)
    owner, other = bearer(owner_key), bearer(await issue_key(gateway))
    policy = await create(gateway, owner, "mine", 3100)
    assert policy["owner"] == owner_key["id"]
    path = f"{PATH}/{policy['id']}"
    assert (await gateway.get(path, headers=owner)).status_code == 200
    assert (await gateway.get(path, headers=ADMIN)).status_code == 200
    assert policy["id"] in await listed(gateway, owner)
    assert policy["id"] in await listed(gateway, ADMIN)
    assert policy["id"] not in await listed(gateway, other)
    assert_problem(await gateway.get(path, headers=other), 404)
    assert_problem(
        await gateway.patch(path, json={"name": "x"}, headers={**other, "If-Match": "*"}), 404
    )
    assert_problem(await gateway.delete(path, headers={**other, "If-Match": "*"}), 404)
    reader = bearer(await issue_key(gateway, role="readonly"))
    assert_problem(await gateway.delete(path, headers={**reader, "If-Match": "*"}), 403)


async def test_patch_needs_the_current_etag(gateway: httpx.AsyncClient) -> None:
    owner = bearer(await issue_key(gateway))
    policy = await create(gateway, owner, "before", 3200)
    path = f"{PATH}/{policy['id']}"
    read = await gateway.get(path, headers=owner)
    etag = read.headers["etag"]

    assert_problem(await gateway.patch(path, json={"name": "after"}, headers=owner), 428)
    stale = await gateway.patch(path, json={"name": "after"}, headers={**owner, "If-Match": '"x"'})
    assert_problem(stale, 412)
    changed = await gateway.patch(
        path,
        json={"name": "after", "description": "renamed"},
        headers={**owner, "If-Match": etag},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["description"]) == ("after", "renamed")
    assert changed.json()["data"] == policy["data"] and changed.json()["sha256"] == policy["sha256"]
    assert changed.headers["etag"] != etag
    assert (await gateway.get(path, headers=owner)).headers["etag"] == changed.headers["etag"]
    # The first ETag is stale now: a change based on it would overwrite this one.
    assert_problem(
        await gateway.patch(path, json={"name": "again"}, headers={**owner, "If-Match": etag}), 412
    )
    for body in ({"data": {CTC: {"2026-01-01.2100-12-31": 1}}}, {"name": ""}, {"name": None}):
        problem = assert_problem(
            await gateway.patch(path, json=body, headers={**owner, "If-Match": "*"}), 422
        )
        assert problem["errors"], problem


async def test_a_deleted_policy_is_gone_and_announced(
    gateway: httpx.AsyncClient, migrated: Settings
) -> None:
    owner = bearer(await issue_key(gateway))
    policy = await create(gateway, owner, "doomed", 3300)
    path = f"{PATH}/{policy['id']}"
    assert_problem(await gateway.delete(path, headers=owner), 428)
    async with event_tap(migrated.amqp_url, "policy.deleted") as tap:
        deleted = await gateway.delete(
            path,
            headers={
                **owner,
                "If-Match": policy_etag(policy, await gateway.get(path, headers=owner)),
            },
        )
        assert deleted.status_code == 204, deleted.text
        event = json.loads((await tap.message_about(policy["id"])).body)
    assert event["data"]["policy_id"] == policy["id"] and event["data"]["deleted_at"]
    for headers in (owner, ADMIN):
        assert_problem(await gateway.get(path, headers=headers), 404)
        assert policy["id"] not in await listed(gateway, headers)
    assert_problem(await gateway.delete(path, headers={**owner, "If-Match": "*"}), 404)


def policy_etag(policy: dict[str, Any], read: httpx.Response) -> str:
    assert read.json() == policy
    return read.headers["etag"]


async def test_policies_filter_and_sort(gateway: httpx.AsyncClient) -> None:
    owner = bearer(await issue_key(gateway))
    made = [await create(gateway, owner, name, 3400 + n) for n, name in enumerate("abc")]
    ids = [policy["id"] for policy in made]
    assert await listed(gateway, owner) == ids[::-1]
    assert await listed(gateway, owner, sort="created_at") == ids
    assert await listed(gateway, owner, name="b") == [ids[1]]
    assert await listed(gateway, owner, sha256=made[2]["sha256"]) == [ids[2]]
    for params, field in (({"sort": "name"}, "sort"), ({"sha256": "xyz"}, "sha256")):
        problem = assert_problem(await gateway.get(PATH, params=params, headers=owner), 422)
        assert any(e["field"].split(".")[-1] == field for e in problem["errors"]), problem
