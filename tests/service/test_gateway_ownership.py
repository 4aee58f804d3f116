"""Credentials, roles and ownership through the gateway, on the real services.

API keys and bearer JWTs name a principal; the services keep each resource's owner
and show a caller only their own (an admin: all), with 404 for anyone else's.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
from typing import Any

import httpx
import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.settings import Settings
from tests.problems import assert_problem
from tests.service.access_fixtures import (
    JWT_SECRET,
    Stack,
    known_policy,
    served,
    synthetic_dataset,
    token,
)
from tests.service.bus import event_tap
from tests.service.gateway_fixtures import ADMIN, bearer, issue_key, running_gateway


async def test_a_valid_jwt_names_its_subject_and_role(stack: Stack) -> None:
    gateway = stack.gateway
    alice = token("alice", "user")
    created = await gateway.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "event_types": ["simulation.completed"]},
        headers=alice,
    )
    assert created.status_code == 201, created.text
    path = f"/api/v1/webhooks/{created.json()['id']}"
    assert (await gateway.get(path, headers=alice)).status_code == 200
    # Another subject is another owner, whatever the credential.
    assert_problem(await gateway.get(path, headers=token("bob", "user")), 404)
    assert (await gateway.get(path, headers=token("root", "admin"))).status_code == 200
    # A readonly token reads but never writes.
    reader = token("alice", "readonly")
    assert (await gateway.get("/api/v1/webhooks", headers=reader)).status_code == 200
    problem = assert_problem(await gateway.delete(path, headers={**reader, "If-Match": "*"}), 403)
    assert "readonly" in problem["detail"]


def bearer_jwt(claims: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}


async def test_expired_forged_and_roleless_jwts_are_401(stack: Stack) -> None:
    gateway = stack.gateway
    for headers, reason in (
        (token("alice", "user", expires_in=-60), "expired"),
        (token("alice", "user", secret="another-secret-entirely-0123456789"), "signature"),
        (token("alice", "superuser"), "role"),
        (bearer_jwt({"sub": "alice", "role": "user"}), "exp"),
        (token("", "user"), "sub"),
        ({"Authorization": "Bearer not.a.jwt"}, "not valid"),
    ):
        problem = assert_problem(await gateway.get("/api/v1/datasets", headers=headers), 401)
        assert reason.lower() in problem["detail"].lower(), problem


def hs256_with(secret: bytes, claims: dict[str, Any]) -> str:
    """An HS256 token made by hand, with any bytes as its secret (PyJWT refuses PEM keys)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = ".".join(
        part(json.dumps(section).encode())
        for section in ({"alg": "HS256", "typ": "JWT", "kid": "k1"}, claims)
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


@pytest.mark.parametrize("source", ["file", "url"])
async def test_jwts_signed_with_a_jwks_key(stack: Stack, tmp_path: Any, source: str) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    document = {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}
    jwks_app = FastAPI()
    jwks_app.get("/.well-known/jwks.json")(lambda: document)
    claims = {"sub": "carol", "role": "user", "aud": "fiscus", "exp": 2**31}
    good = jwt.encode(claims, private, algorithm="RS256", headers={"kid": "k1"})
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    refused_tokens = (
        jwt.encode(claims, private, algorithm="RS256", headers={"kid": "k2"}),
        jwt.encode({**claims, "aud": "other"}, private, algorithm="RS256", headers={"kid": "k1"}),
        # The public key as an HMAC secret: the classic algorithm confusion.
        hs256_with(public_pem, claims),
    )
    async with contextlib.AsyncExitStack() as running:
        update: dict[str, Any] = {"jwt_secret": None, "jwt_audience": "fiscus"}
        if source == "file":
            update["jwt_jwks_file"] = tmp_path / "jwks.json"
            update["jwt_jwks_file"].write_text(json.dumps(document))
        else:
            port = await running.enter_async_context(served(jwks_app))
            update["jwt_jwks_url"] = f"http://127.0.0.1:{port}/.well-known/jwks.json"
        settings = Settings.model_validate(stack.settings.model_copy(update=update).model_dump())
        gateway = await running.enter_async_context(running_gateway(settings))
        answer = await gateway.get("/api/v1/datasets", headers={"Authorization": f"Bearer {good}"})
        assert answer.status_code == 200, answer.text
        for refused in refused_tokens:
            headers = {"Authorization": f"Bearer {refused}"}
            assert_problem(await gateway.get("/api/v1/datasets", headers=headers), 401)
        # API keys still work beside JWTs.
        assert (await gateway.get("/api/v1/datasets", headers=ADMIN)).status_code == 200


async def upload(
    gateway: httpx.AsyncClient, headers: dict[str, str], archive: bytes
) -> dict[str, Any]:
    answer = await gateway.post(
        "/api/v1/datasets",
        data={"name": "uploaded", "year": "2025"},
        files={"file": ("population.zip", archive, "application/zip")},
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def ids(gateway: httpx.AsyncClient, path: str, headers: dict[str, str]) -> list[str]:
    answer = await gateway.get(path, params={"limit": 100}, headers=headers)
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


async def test_uploads_are_their_uploaders_and_synthetic_datasets_everyones(stack: Stack) -> None:
    gateway = stack.gateway
    owner, other = bearer(await issue_key(gateway)), bearer(await issue_key(gateway))
    synthetic = await synthetic_dataset(gateway, owner, seed=11)
    archive = await gateway.get(f"/api/v1/datasets/{synthetic['id']}/download", headers=other)
    assert archive.status_code == 200
    uploaded = await upload(gateway, owner, archive.content)
    path = f"/api/v1/datasets/{uploaded['id']}"

    assert synthetic["id"] in await ids(gateway, "/api/v1/datasets", other)
    assert uploaded["id"] not in await ids(gateway, "/api/v1/datasets", other)
    assert uploaded["id"] in await ids(gateway, "/api/v1/datasets", owner)
    assert uploaded["id"] in await ids(gateway, "/api/v1/datasets", ADMIN)
    for method in ("GET", "DELETE"):
        assert_problem(await gateway.request(method, path, headers={**other, "If-Match": "*"}), 404)
    assert_problem(await gateway.get(f"{path}/download", headers=other), 404)
    # Everyone may use a synthetic dataset; only its registrant (or an admin) deletes it.
    problem = assert_problem(
        await gateway.delete(
            f"/api/v1/datasets/{synthetic['id']}", headers={**other, "If-Match": "*"}
        ),
        403,
    )
    assert "registered" in problem["detail"]


async def test_deleting_needs_the_current_etag_and_hides_the_dataset(
    stack: Stack, migrated: Settings
) -> None:
    gateway = stack.gateway
    owner = bearer(await issue_key(gateway))
    dataset = await synthetic_dataset(gateway, owner, seed=12)
    path = f"/api/v1/datasets/{dataset['id']}"
    read = await gateway.get(path, headers=owner)
    etag = read.headers["etag"]
    assert etag.startswith('"') and len(etag) == 66
    assert (await gateway.get(path, headers=owner)).headers["etag"] == etag

    assert_problem(await gateway.delete(path, headers=owner), 428)
    assert_problem(await gateway.delete(path, headers={**owner, "If-Match": '"other"'}), 412)
    async with event_tap(migrated.amqp_url, "dataset.deleted") as tap:
        deleted = await gateway.delete(path, headers={**owner, "If-Match": etag})
        assert deleted.status_code == 204, deleted.text
        event = json.loads((await tap.message_about(dataset["id"])).body)
    assert event["type"] == "dataset.deleted" and event["data"]["dataset_id"] == dataset["id"]
    for headers in (owner, ADMIN):
        assert_problem(await gateway.get(path, headers=headers), 404)
        assert dataset["id"] not in await ids(gateway, "/api/v1/datasets", headers)


async def test_simulations_are_their_requesters(
    stack: Stack, migrated: Settings, admin_connection: AsyncConnection
) -> None:
    gateway = stack.gateway
    keys = [await issue_key(gateway) for _ in range(3)]
    first, second, stranger = [bearer(key) for key in keys]
    dataset = await synthetic_dataset(gateway, first, seed=13)
    policy_id = await known_policy(migrated.amqp_url)
    body = {"dataset_id": dataset["id"], "policy_id": policy_id, "year": 2025}

    created = await gateway.post("/api/v1/simulations", json=body, headers=first)
    assert created.status_code == 202, created.text
    simulation_id = created.json()["id"]
    path = f"/api/v1/simulations/{simulation_id}"
    # An equal request from someone else is answered with the same simulation, which
    # that caller may then read.
    again = await gateway.post("/api/v1/simulations", json=body, headers=second)
    assert again.status_code == 200 and again.json()["id"] == simulation_id
    # Asking again adds no one twice; the first requester owns it.
    repeated = await gateway.post("/api/v1/simulations", json=body, headers=second)
    assert repeated.status_code == 200 and repeated.json()["id"] == simulation_id
    row = (
        await admin_connection.execute(
            sa.text("SELECT owner, requesters FROM simulation.simulations WHERE id = :id"),
            {"id": simulation_id},
        )
    ).one()
    assert (row.owner, list(row.requesters)) == (keys[0]["id"], [keys[0]["id"], keys[1]["id"]])
    for headers in (first, second, ADMIN):
        assert (await gateway.get(path, headers=headers)).status_code == 200
        assert simulation_id in await ids(gateway, "/api/v1/simulations", headers)
    assert_problem(await gateway.get(path, headers=stranger), 404)
    assert simulation_id not in await ids(gateway, "/api/v1/simulations", stranger)
    assert_problem(await gateway.post(f"{path}/cancel", headers=stranger), 404)
    # What another service keeps of the simulation is as hidden as the simulation.
    assert_problem(await gateway.get(f"{path}/report", headers=stranger), 404)
    # (No aggregation service runs here: the owner's request is forwarded, and fails.)
    assert_problem(await gateway.get(f"{path}/report", headers=first), 503)
    # Cancelling stops it for every requester: only the first one (or an admin) may.
    assert_problem(await gateway.post(f"{path}/cancel", headers=second), 403)
    cancelled = await gateway.post(f"{path}/cancel", headers=first)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


async def test_lists_filter_and_sort_and_refuse_unknown_values(
    stack: Stack, migrated: Settings
) -> None:
    gateway = stack.gateway
    caller = bearer(await issue_key(gateway))
    dataset = await synthetic_dataset(gateway, caller, seed=14)
    policy_id = await known_policy(migrated.amqp_url)
    made = []
    for year in (2024, 2025, 2026):
        answer = await gateway.post(
            "/api/v1/simulations",
            json={"dataset_id": dataset["id"], "policy_id": policy_id, "year": year},
            headers=caller,
        )
        assert answer.status_code == 202, answer.text
        made.append(answer.json()["id"])

    newest = await ids(gateway, "/api/v1/simulations", caller)
    assert newest == made[::-1]
    oldest = await gateway.get("/api/v1/simulations?sort=created_at", headers=caller)
    assert [s["id"] for s in oldest.json()["items"]] == made
    page = await gateway.get("/api/v1/simulations?sort=created_at&limit=2", headers=caller)
    rest = await gateway.get(
        "/api/v1/simulations",
        params={"sort": "created_at", "limit": 2, "cursor": page.json()["next_cursor"]},
        headers=caller,
    )
    assert [s["id"] for s in rest.json()["items"]] == made[2:]
    only = await gateway.get(
        "/api/v1/simulations",
        params={"dataset_id": dataset["id"], "year": 2025, "status": "queued"},
        headers=caller,
    )
    assert [s["id"] for s in only.json()["items"]] == [made[1]]
    none = await gateway.get("/api/v1/simulations?status=failed", headers=caller)
    assert none.json()["items"] == []
    synthetic = await gateway.get(
        "/api/v1/datasets", params={"source": "synthetic", "year": 2025}, headers=caller
    )
    assert dataset["id"] in [d["id"] for d in synthetic.json()["items"]]

    for path, field in (
        ("/api/v1/simulations?sort=name", "sort"),
        ("/api/v1/simulations?status=done", "status"),
        ("/api/v1/simulations?year=1900", "year"),
        ("/api/v1/datasets?source=mine", "source"),
        ("/api/v1/datasets?sort=-size", "sort"),
        ("/api/v1/webhooks?sort=url", "sort"),
        ("/api/v1/webhooks?enabled=maybe", "enabled"),
        ("/api/v1/keys?role=root", "role"),
        ("/api/v1/keys?sort=secret", "sort"),
    ):
        problem = assert_problem(await gateway.get(path, headers=ADMIN), 422)
        assert any(e["field"].split(".")[-1] == field for e in problem["errors"]), problem


async def refused_input(
    gateway: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str]
) -> str:
    """The field a simulation request is refused on (422), once the service knows why."""
    for _ in range(10):
        answer = await gateway.post("/api/v1/simulations", json=body, headers=headers)
        if answer.status_code == 422:
            problem = assert_problem(answer, 422)
            field: str = problem["errors"][0]["field"]
            return field
        await asyncio.sleep(0.5)
    raise AssertionError(f"never refused: {answer.status_code} {answer.text}")


async def test_simulations_take_only_the_callers_live_inputs(
    stack: Stack, migrated: Settings
) -> None:
    gateway = stack.gateway
    owner_key = await issue_key(gateway)
    owner, other = bearer(owner_key), bearer(await issue_key(gateway))
    synthetic = await synthetic_dataset(gateway, owner, seed=15)
    archive = await gateway.get(f"/api/v1/datasets/{synthetic['id']}/download", headers=owner)
    uploaded = await upload(gateway, owner, archive.content)
    mine = await known_policy(migrated.amqp_url, owner=owner_key["id"])
    shared = await known_policy(migrated.amqp_url)

    on_upload = {"dataset_id": uploaded["id"], "policy_id": shared, "year": 2025}
    accepted = await gateway.post("/api/v1/simulations", json=on_upload, headers=owner)
    assert accepted.status_code == 202, accepted.text
    # Another caller's upload or policy is as unknown to them as one that does not exist.
    assert await refused_input(gateway, on_upload, other) == "dataset_id"
    theirs = {"dataset_id": synthetic["id"], "policy_id": mine, "year": 2025}
    assert await refused_input(gateway, theirs, other) == "policy_id"
    for headers, status in ((owner, 202), (ADMIN, 200)):
        answer = await gateway.post("/api/v1/simulations", json=theirs, headers=headers)
        assert answer.status_code == status, answer.text

    # A deleted dataset takes no new simulation; the one accepted on it stays.
    etag = (await gateway.get(f"/api/v1/datasets/{uploaded['id']}", headers=owner)).headers["etag"]
    deleted = await gateway.delete(
        f"/api/v1/datasets/{uploaded['id']}", headers={**owner, "If-Match": etag}
    )
    assert deleted.status_code == 204
    later = {**on_upload, "year": 2026}
    assert await refused_input(gateway, later, owner) == "dataset_id"
    kept = await gateway.get(f"/api/v1/simulations/{accepted.json()['id']}", headers=owner)
    assert kept.status_code == 200
