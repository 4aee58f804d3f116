"""The audit log: every change sent through the gateway, readable by admins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.problems import assert_problem
from tests.service.access_fixtures import Stack, token
from tests.service.gateway_fixtures import ADMIN, bearer, issue_key

AUDIT = "/api/v1/audit"


async def entries(stack: Stack, **params: Any) -> list[dict[str, Any]]:
    answer = await stack.gateway.get(AUDIT, params={"limit": 100, **params}, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_every_change_is_logged_with_who_what_when_and_how_it_ended(stack: Stack) -> None:
    gateway = stack.gateway
    key = await issue_key(gateway, role="user")
    caller = bearer(key)
    started = datetime.now(UTC) - timedelta(seconds=1)
    created = await gateway.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "event_types": ["*"]},
        headers={**caller, "X-Request-ID": "audit-create"},
    )
    assert created.status_code == 201
    endpoint_id = created.json()["id"]
    path = f"/api/v1/webhooks/{endpoint_id}"
    assert (await gateway.get(path, headers=caller)).status_code == 200
    refused = await gateway.patch(path, json={"description": "x"}, headers=caller)
    assert refused.status_code == 428
    changed = await gateway.patch(
        path, json={"description": "x"}, headers={**caller, "If-Match": "*"}
    )
    assert changed.status_code == 200
    deleted = await gateway.delete(path, headers={**caller, "If-Match": changed.headers["etag"]})
    assert deleted.status_code == 204

    logged = await entries(stack, principal=key["id"])
    # Newest first; reads are not changes and are not logged.
    assert [(e["method"], e["status"]) for e in logged] == [
        ("DELETE", 204),
        ("PATCH", 200),
        ("PATCH", 428),
        ("POST", 201),
    ]
    assert all(e["resource_type"] == "webhooks" for e in logged)
    assert all(e["resource_id"] == endpoint_id for e in logged)
    assert all(e["path"] == path for e in logged[:3]) and logged[3]["path"] == "/api/v1/webhooks"
    assert all(e["principal"] == key["id"] and e["role"] == "user" for e in logged)
    assert logged[3]["request_id"] == "audit-create"
    assert all(datetime.fromisoformat(e["created_at"]) >= started for e in logged)

    assert [e["status"] for e in await entries(stack, principal=key["id"], method="PATCH")] == [
        200,
        428,
    ]
    assert len(await entries(stack, resource_id=endpoint_id, status=204)) == 1
    assert await entries(stack, principal=key["id"], since=datetime.now(UTC) + timedelta(1)) == []
    oldest = await entries(stack, principal=key["id"], sort="created_at", limit=2)
    assert [e["method"] for e in oldest] == ["POST", "PATCH"]


async def test_refused_changes_are_logged_too(stack: Stack) -> None:
    gateway = stack.gateway
    reader = await issue_key(gateway, role="readonly")
    answer = await gateway.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/", "event_types": ["*"]},
        headers=bearer(reader),
    )
    assert_problem(answer, 403)
    (entry,) = await entries(stack, principal=reader["id"])
    assert (entry["method"], entry["status"], entry["role"]) == ("POST", 403, "readonly")
    # A token's subject is its principal.
    await gateway.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/", "event_types": ["*"]},
        headers=token("dave", "user"),
    )
    (entry,) = await entries(stack, principal="jwt:dave")
    assert entry["status"] == 201 and entry["resource_id"]


async def test_only_admins_read_the_audit_log(stack: Stack) -> None:
    gateway = stack.gateway
    for role in ("user", "readonly"):
        assert_problem(
            await gateway.get(AUDIT, headers=bearer(await issue_key(gateway, role=role))), 403
        )
    assert_problem(await gateway.get(AUDIT, headers=token("erin", "user")), 403)
    assert_problem(await gateway.get(AUDIT), 401)
    assert (await gateway.get(AUDIT, headers=token("root", "admin"))).status_code == 200
    page = await gateway.get(AUDIT, params={"limit": 1}, headers=ADMIN)
    following = await gateway.get(
        AUDIT, params={"limit": 1, "cursor": page.json()["next_cursor"]}, headers=ADMIN
    )
    assert following.json()["items"][0]["id"] != page.json()["items"][0]["id"]
    for params, field in (
        ({"method": "GET"}, "method"),
        ({"status": 42}, "status"),
        ({"sort": "principal"}, "sort"),
        ({"since": "yesterday"}, "since"),
        ({"cursor": "nonsense"}, "cursor"),
    ):
        problem = assert_problem(await gateway.get(AUDIT, params=params, headers=ADMIN), 422)
        assert any(e["field"].split(".")[-1] == field for e in problem["errors"]), problem
