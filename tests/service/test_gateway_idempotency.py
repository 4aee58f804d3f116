"""Idempotency-Key on POST: replays, misuse, concurrent duplicates and expiry."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import Database, UnitOfWork
from shared.settings import Settings
from tests.problems import assert_problem
from tests.service.gateway_fixtures import (
    ADMIN,
    HOLD,
    REFUSE,
    Upstream,
    bearer,
    gateway_settings,
    issue_key,
    running_gateway,
)

PATH = "/api/v1/policies"


def with_key(headers: dict[str, str], idempotency_key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": idempotency_key}


async def test_a_retry_gets_the_stored_answer(
    gateway: httpx.AsyncClient, upstream: Upstream
) -> None:
    headers = with_key(ADMIN, str(uuid.uuid4()))
    first = await gateway.post(PATH, json={"name": "a"}, headers=headers)
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    calls = upstream.count("POST", PATH)

    again = await gateway.post(PATH, json={"name": "a"}, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["content-type"] == first.headers["content-type"]
    assert "ratelimit-remaining" in again.headers
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert upstream.count("POST", PATH) == calls


async def test_the_same_key_for_another_request_is_422(gateway: httpx.AsyncClient) -> None:
    headers = with_key(ADMIN, str(uuid.uuid4()))
    assert (await gateway.post(PATH, json={"name": "a"}, headers=headers)).status_code == 201
    other_body = await gateway.post(PATH, json={"name": "b"}, headers=headers)
    problem = assert_problem(other_body, 422)
    assert problem["type"] == "urn:fiscus:problem:idempotency-key-reused"
    other_path = await gateway.post("/api/v1/datasets", json={"name": "a"}, headers=headers)
    assert_problem(other_path, 422)


async def test_a_duplicate_in_flight_is_409(gateway: httpx.AsyncClient, upstream: Upstream) -> None:
    upstream.held.clear()
    upstream.release.clear()
    headers = with_key(ADMIN, str(uuid.uuid4()))
    first = asyncio.create_task(gateway.post(PATH, content=HOLD, headers=headers))
    await asyncio.wait_for(upstream.held.wait(), timeout=30)
    duplicate = await gateway.post(PATH, content=HOLD, headers=headers)
    problem = assert_problem(duplicate, 409)
    assert problem["type"] == "urn:fiscus:problem:idempotency-in-flight"
    upstream.release.set()
    assert (await first).status_code == 201
    replay = await gateway.post(PATH, content=HOLD, headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == (await first).json()


async def test_keys_are_scoped_by_api_key(gateway: httpx.AsyncClient, upstream: Upstream) -> None:
    shared_key = str(uuid.uuid4())
    user = await issue_key(gateway, role="user")
    mine = await gateway.post(PATH, json={"name": "a"}, headers=with_key(ADMIN, shared_key))
    theirs = await gateway.post(
        PATH, json={"name": "a"}, headers=with_key(bearer(user), shared_key)
    )
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["call"] != mine.json()["call"]
    assert theirs.json()["principal"] == f"{user['id']}:user"


async def test_an_expired_record_is_forgotten(
    gateway: httpx.AsyncClient, upstream: Upstream, admin_connection: AsyncConnection
) -> None:
    idempotency_key = str(uuid.uuid4())
    headers = with_key(ADMIN, idempotency_key)
    first = await gateway.post(PATH, json={"name": "a"}, headers=headers)
    await admin_connection.execute(
        sa.text(
            "UPDATE gateway.idempotency_records SET expires_at = now() - interval '1 second'"
            " WHERE idempotency_key = :key"
        ),
        {"key": idempotency_key},
    )
    await admin_connection.commit()
    again = await gateway.post(PATH, json={"name": "a"}, headers=headers)
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert again.json()["call"] != first.json()["call"]


async def test_expired_records_of_a_key_are_purged_on_its_next_claim(
    gateway: httpx.AsyncClient, admin_connection: AsyncConnection
) -> None:
    key = await issue_key(gateway, role="user")
    old = [str(uuid.uuid4()) for _ in range(2)]
    for idempotency_key in old:
        await gateway.post(PATH, json={}, headers=with_key(bearer(key), idempotency_key))
    await admin_connection.execute(
        sa.text(
            "UPDATE gateway.idempotency_records SET expires_at = now() - interval '1 second'"
            " WHERE key_id = :id"
        ),
        {"id": key["id"]},
    )
    await admin_connection.commit()
    await gateway.post(PATH, json={}, headers=with_key(bearer(key), str(uuid.uuid4())))
    left = await admin_connection.scalar(
        sa.text("SELECT count(*) FROM gateway.idempotency_records WHERE key_id = :id"),
        {"id": key["id"]},
    )
    await admin_connection.rollback()
    assert left == 1


async def test_records_expire_after_the_configured_time(
    gateway: httpx.AsyncClient, admin_connection: AsyncConnection
) -> None:
    idempotency_key = str(uuid.uuid4())
    await gateway.post(PATH, json={"name": "a"}, headers=with_key(ADMIN, idempotency_key))
    lifetime = await admin_connection.scalar(
        sa.text(
            "SELECT extract(epoch FROM expires_at - created_at)"
            " FROM gateway.idempotency_records WHERE idempotency_key = :key"
        ),
        {"key": idempotency_key},
    )
    await admin_connection.rollback()
    assert float(lifetime) == Settings().idempotency_ttl_seconds


async def test_client_errors_are_remembered_server_errors_are_not(
    gateway: httpx.AsyncClient, migrated: Settings, upstream: Upstream
) -> None:
    headers = with_key(ADMIN, str(uuid.uuid4()))
    refused = await gateway.post(PATH, content=REFUSE, headers=headers)
    assert refused.status_code == 422
    replay = await gateway.post(PATH, content=REFUSE, headers=headers)
    assert replay.status_code == 422
    assert replay.headers["idempotent-replayed"] == "true"

    unreachable = gateway_settings(migrated, upstream, policy_port=1)
    async with running_gateway(unreachable) as down:
        headers = with_key(ADMIN, str(uuid.uuid4()))
        assert_problem(await down.post(PATH, json={"name": "a"}, headers=headers), 503)
        retry = await gateway.post(PATH, json={"name": "a"}, headers=headers)
    assert retry.status_code == 201
    assert "idempotent-replayed" not in retry.headers


async def test_a_replayed_new_key_does_not_show_its_secret_again(
    gateway: httpx.AsyncClient, admin_connection: AsyncConnection
) -> None:
    headers = with_key(ADMIN, str(uuid.uuid4()))
    created = await gateway.post("/api/v1/keys", json={"name": "once"}, headers=headers)
    assert created.status_code == 201
    replay = await gateway.post("/api/v1/keys", json={"name": "once"}, headers=headers)
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == created.json()["id"]
    assert "secret" not in replay.json()
    stored = await admin_connection.scalar(
        sa.text("SELECT count(*) FROM gateway.idempotency_records WHERE response_body LIKE :s"),
        {"s": f"%{created.json()['secret']}%".encode()},
    )
    await admin_connection.rollback()
    assert stored == 0


async def test_a_malformed_idempotency_key_is_422(gateway: httpx.AsyncClient) -> None:
    problem = assert_problem(
        await gateway.post(PATH, json={}, headers=with_key(ADMIN, "x" * 256)), 422
    )
    assert problem["errors"][0]["field"] == "Idempotency-Key"


async def test_a_post_makes_at_most_two_gateway_transactions(
    gateway: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key lookup and the idempotency claim share the first transaction; the
    remembered answer and the audit entry, the second (the route here is forwarded)."""
    key = await issue_key(gateway, role="user")
    opened: list[int] = []
    unit_of_work = Database.unit_of_work

    def counted(database: Database) -> UnitOfWork:
        opened.append(1)
        return unit_of_work(database)

    monkeypatch.setattr(Database, "unit_of_work", counted)
    for headers in (bearer(key), with_key(bearer(key), str(uuid.uuid4()))):
        opened.clear()
        answer = await gateway.post(PATH, json={"name": "counted"}, headers=headers)
        assert answer.status_code == 201, answer.text
        assert len(opened) == 2, headers.keys()
