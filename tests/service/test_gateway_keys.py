"""API keys and roles through the gateway, forwarded to a real upstream over HTTP."""

from __future__ import annotations

import hashlib
import re

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.problems import assert_problem
from tests.service.gateway_fixtures import ADMIN, Upstream, bearer, issue_key


async def test_a_new_key_shows_its_secret_once_and_stores_only_a_hash(
    gateway: httpx.AsyncClient, admin_connection: AsyncConnection
) -> None:
    created = await issue_key(gateway, name="notebook", role="user", rate_limit="120/minute")
    assert re.fullmatch(r"fk_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}", created["secret"])
    assert created["secret"].startswith(f"fk_{created['prefix']}_")
    assert created["role"] == "user" and created["created_by"] == "admin"
    assert created["revoked_at"] is None and created["rate_limit"] == "120/minute"

    read = await gateway.get(f"/api/v1/keys/{created['id']}", headers=ADMIN)
    assert read.status_code == 200
    assert "secret" not in read.json()
    listed = (await gateway.get("/api/v1/keys", headers=ADMIN)).json()
    assert created["id"] in [key["id"] for key in listed["items"]]
    assert all("secret" not in key for key in listed["items"])

    row = (
        (
            await admin_connection.execute(
                sa.text("SELECT * FROM gateway.api_keys WHERE id = :id"), {"id": created["id"]}
            )
        )
        .mappings()
        .one()
    )
    assert row["secret_sha256"] == hashlib.sha256(created["secret"].encode()).hexdigest()
    assert created["secret"] not in [str(value) for value in row.values()]


async def test_a_key_reaches_the_services_as_its_principal(
    gateway: httpx.AsyncClient, upstream: Upstream
) -> None:
    key = await issue_key(gateway, role="user")
    answer = await gateway.get("/api/v1/policies", headers=bearer(key))
    assert answer.status_code == 200
    assert answer.json()["principal"] == f"{key['id']}:user"
    written = await gateway.post("/api/v1/policies", json={"name": "x"}, headers=bearer(key))
    assert written.status_code == 201
    assert upstream.calls[-1]["principal"] == f"{key['id']}:user"


async def test_readonly_keys_read_but_cannot_write(
    gateway: httpx.AsyncClient, upstream: Upstream
) -> None:
    key = await issue_key(gateway, role="readonly")
    assert (await gateway.get("/api/v1/simulations", headers=bearer(key))).status_code == 200
    before = len(upstream.calls)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        answer = await gateway.request(
            method, "/api/v1/policies/p1", json={"name": "x"}, headers=bearer(key)
        )
        problem = assert_problem(answer, 403)
        assert "readonly" in problem["detail"]
        assert "ratelimit-remaining" in answer.headers
    assert len(upstream.calls) == before


async def test_only_admins_issue_and_revoke_keys(gateway: httpx.AsyncClient) -> None:
    user = await issue_key(gateway, role="user")
    other = await issue_key(gateway, role="user")
    as_user = bearer(user)
    assert_problem(await gateway.post("/api/v1/keys", json={"name": "x"}, headers=as_user), 403)
    assert_problem(await gateway.delete(f"/api/v1/keys/{other['id']}", headers=as_user), 403)
    # A non-admin sees its own key only; another's is as good as absent.
    own = (await gateway.get("/api/v1/keys", headers=as_user)).json()["items"]
    assert [key["id"] for key in own] == [user["id"]]
    assert (await gateway.get(f"/api/v1/keys/{user['id']}", headers=as_user)).status_code == 200
    assert_problem(await gateway.get(f"/api/v1/keys/{other['id']}", headers=as_user), 404)


async def test_missing_wrong_and_revoked_keys_are_401(gateway: httpx.AsyncClient) -> None:
    key = await issue_key(gateway, role="admin")
    assert (await gateway.get("/api/v1/keys", headers=bearer(key))).status_code == 200
    wrong_secret = key["secret"][:-4] + ("aaaa" if not key["secret"].endswith("aaaa") else "bbbb")
    for headers in (
        {},
        {"Authorization": "Bearer fk_000000000000_nothing"},
        {"Authorization": f"Bearer {wrong_secret}"},
        {"Authorization": f"Basic {key['secret']}"},
    ):
        assert_problem(await gateway.get("/api/v1/policies", headers=headers), 401)

    assert_problem(await gateway.delete(f"/api/v1/keys/{key['id']}", headers=ADMIN), 428)
    etag = (await gateway.get(f"/api/v1/keys/{key['id']}", headers=ADMIN)).headers["etag"]
    revoked = await gateway.delete(f"/api/v1/keys/{key['id']}", headers={**ADMIN, "If-Match": etag})
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    problem = assert_problem(await gateway.get("/api/v1/policies", headers=bearer(key)), 401)
    assert "revoked" in problem["detail"]
    stale = await gateway.delete(f"/api/v1/keys/{key['id']}", headers={**ADMIN, "If-Match": etag})
    assert_problem(stale, 412)
    again = await gateway.delete(f"/api/v1/keys/{key['id']}", headers={**ADMIN, "If-Match": "*"})
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]


async def test_key_input_is_validated(gateway: httpx.AsyncClient) -> None:
    for body in (
        {"name": "x", "rate_limit": "lots"},
        {"name": "x", "role": "root"},
        {"name": "x", "daily_simulation_quota": -1},
        {"name": "x", "daily_simulation_quota": 2**31},
        {"name": ""},
        {"name": "x", "secret": "mine"},
    ):
        problem = assert_problem(await gateway.post("/api/v1/keys", json=body, headers=ADMIN), 422)
        assert problem["errors"], problem
        fields = {error["field"] for error in problem["errors"]}
        assert fields <= {"body", *(f"body.{name}" for name in body)}, problem
    assert_problem(await gateway.get("/api/v1/keys/not-a-uuid", headers=ADMIN), 404)
    assert_problem(await gateway.delete("/api/v1/keys/admin", headers=ADMIN), 404)


async def test_the_key_routes_are_documented(gateway: httpx.AsyncClient) -> None:
    document = (await gateway.get("/openapi.json")).json()
    for path, methods in (
        ("/api/v1/keys", {"get", "post"}),
        ("/api/v1/keys/{key_id}", {"get", "delete"}),
    ):
        assert methods <= set(document["paths"][path]), document["paths"].get(path)
    create = document["paths"]["/api/v1/keys"]["post"]
    assert create["security"] == [{"apiKey": []}]
    assert {"401", "403", "422", "429"} <= set(create["responses"])
    assert "CreatedKey" in document["components"]["schemas"]
