"""Rate limits and the daily simulation quota per key, on the real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import httpx

from shared.settings import Settings
from tests.problems import assert_problem
from tests.service.gateway_fixtures import ADMIN as ADMIN_HEADERS
from tests.service.gateway_fixtures import (
    Upstream,
    bearer,
    gateway_settings,
    issue_key,
    running_gateway,
)

RATE_HEADERS = (
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
)


async def test_every_answer_says_where_the_key_stands_until_429(
    gateway: httpx.AsyncClient,
) -> None:
    key = await issue_key(gateway, role="user", rate_limit="3/minute")
    paths = ("/api/v1/policies", "/api/v1/no-such-thing", "/api/v1/keys")
    for remaining, path in zip((2, 1, 0), paths, strict=True):
        answer = await gateway.get(path, headers=bearer(key))
        assert answer.status_code in (200, 404)
        for header in RATE_HEADERS:
            assert header in answer.headers, (path, answer.headers)
        assert answer.headers["ratelimit-limit"] == "3"
        assert answer.headers["ratelimit-remaining"] == str(remaining)
        assert answer.headers["x-ratelimit-remaining"] == str(remaining)
        assert 0 < int(answer.headers["ratelimit-reset"]) <= 60
        assert int(answer.headers["x-ratelimit-reset"]) >= int(time.time())

    refused = await gateway.get("/api/v1/policies", headers=bearer(key))
    problem = assert_problem(refused, 429)
    assert problem["type"] == "urn:fiscus:problem:rate-limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.headers["x-ratelimit-limit"] == "3"


async def test_keys_are_limited_apart(gateway: httpx.AsyncClient) -> None:
    spent = await issue_key(gateway, rate_limit="1/minute")
    fresh = await issue_key(gateway, rate_limit="1/minute")
    assert (await gateway.get("/api/v1/policies", headers=bearer(spent))).status_code == 200
    assert_problem(await gateway.get("/api/v1/policies", headers=bearer(spent)), 429)
    assert (await gateway.get("/api/v1/policies", headers=bearer(fresh))).status_code == 200


async def test_the_daily_quota_counts_accepted_simulations(
    gateway: httpx.AsyncClient, upstream: Upstream
) -> None:
    key = await issue_key(gateway, role="user", daily_simulation_quota=2)
    refused = await gateway.post(
        "/api/v1/simulations", content=b'{"refuse": true}', headers=bearer(key)
    )
    assert refused.status_code == 422
    first = await gateway.post(
        "/api/v1/simulations", json={"n": 1}, headers={**bearer(key), "Idempotency-Key": "q-1"}
    )
    assert first.status_code == 202
    # A replay is not a new simulation.
    replay = await gateway.post(
        "/api/v1/simulations", json={"n": 1}, headers={**bearer(key), "Idempotency-Key": "q-1"}
    )
    assert replay.headers["idempotent-replayed"] == "true"
    second = await gateway.post("/api/v1/simulations", json={"n": 2}, headers=bearer(key))
    assert second.status_code == 202

    before = upstream.count("POST", "/api/v1/simulations")
    exhausted = await gateway.post("/api/v1/simulations", json={"n": 3}, headers=bearer(key))
    problem = assert_problem(exhausted, 429)
    assert problem["type"] == "urn:fiscus:problem:quota-exhausted"
    assert "2 simulations" in problem["detail"]
    assert int(exhausted.headers["retry-after"]) > 3600
    assert upstream.count("POST", "/api/v1/simulations") == before
    # The quota is about simulations; the key still reads and writes elsewhere.
    assert (await gateway.get("/api/v1/simulations", headers=bearer(key))).status_code == 200
    assert (await gateway.post("/api/v1/policies", json={}, headers=bearer(key))).status_code == 201


async def test_redis_down_is_a_quick_503(migrated: Settings, upstream: Upstream) -> None:
    settings = gateway_settings(migrated, upstream, redis_url="redis://127.0.0.1:1/0")
    async with running_gateway(settings) as client:
        problem = assert_problem(await client.get("/api/v1/policies", headers=ADMIN_HEADERS), 503)
        assert "rate limits" in problem["detail"]
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"] != "ok"


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """A port that accepts connections and never answers, like a hung Redis."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_hung_redis_is_a_503_not_a_hang(migrated: Settings, upstream: Upstream) -> None:
    async with silent_server() as port:
        settings = gateway_settings(
            migrated,
            upstream,
            redis_url=f"redis://127.0.0.1:{port}/0",
            redis_timeout_seconds=0.2,
        )
        async with running_gateway(settings) as client:
            answer = await asyncio.wait_for(
                client.get("/api/v1/policies", headers=ADMIN_HEADERS), timeout=30
            )
            assert_problem(answer, 503)


async def test_limits_can_be_switched_off(migrated: Settings, upstream: Upstream) -> None:
    settings = gateway_settings(
        migrated, upstream, rate_limit_enabled=False, redis_url="redis://127.0.0.1:1/0"
    )
    async with running_gateway(settings) as client:
        answer = await client.get("/api/v1/policies", headers=ADMIN_HEADERS)
        assert answer.status_code == 200
        assert "ratelimit-limit" not in answer.headers
        assert "redis" not in (await client.get("/readyz")).json()["checks"]
