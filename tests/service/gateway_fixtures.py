"""Fixtures of the gateway's tests: a real upstream over HTTP, real Postgres and Redis."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis.asyncio as redis
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.gateway.domain.routing import UPSTREAMS
from services.gateway.main import create_app
from shared.settings import Settings

ADMIN_KEY = "fk_test_" + uuid.uuid4().hex
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
# Every Redis key of this test run starts with it; only those are deleted afterwards.
REDIS_PREFIX = f"fiscus-test-gateway-{uuid.uuid4().hex[:12]}"
HOLD = b'{"hold": true}'
REFUSE = b'{"refuse": true}'


@dataclass
class Upstream:
    """A stand-in for the services behind the gateway, reached over real HTTP."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    held: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    def app(self) -> FastAPI:
        app = FastAPI(openapi_url=None)

        @app.api_route("/api/v1/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def answer(path: str, request: Request) -> JSONResponse:
            body = await request.body()
            number = len(self.calls) + 1
            self.calls.append(
                {
                    "method": request.method,
                    "path": f"/api/v1/{path}",
                    "principal": request.headers.get("x-fiscus-principal"),
                    "body": body,
                }
            )
            if body == HOLD:
                self.held.set()
                await self.release.wait()
            if body == REFUSE:
                return JSONResponse({"detail": "refused"}, status_code=422)
            status = 200
            if request.method == "POST":
                status = 202 if path == "simulations" else 201
            return JSONResponse(
                {"call": number, "principal": request.headers.get("x-fiscus-principal")},
                status_code=status,
                headers={"Location": f"/api/v1/{path}/{number}"},
            )

        return app

    def count(self, method: str, path: str) -> int:
        return sum(1 for c in self.calls if c["method"] == method and c["path"] == path)


@pytest.fixture(scope="module")
async def upstream() -> AsyncIterator[Upstream]:
    stand_in = Upstream()
    config = uvicorn.Config(
        stand_in.app(), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert server.started, "the stand-in upstream did not start"
    stand_in.port = server.servers[0].sockets[0].getsockname()[1]
    yield stand_in
    stand_in.release.set()
    server.should_exit = True
    await task


@pytest.fixture(scope="module")
async def redis_prefix() -> AsyncIterator[str]:
    yield REDIS_PREFIX
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    keys = [key async for key in client.scan_iter(match=f"{REDIS_PREFIX}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def gateway_settings(base: Settings, upstream: Upstream, **overrides: Any) -> Settings:
    update: dict[str, Any] = {
        "admin_api_key": ADMIN_KEY,
        "redis_key_prefix": REDIS_PREFIX,
        **{f"{service}_port": upstream.port for service in UPSTREAMS},
        **overrides,
    }
    return Settings.model_validate(base.model_copy(update=update).model_dump())


@contextlib.asynccontextmanager
async def running_gateway(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


@pytest.fixture(scope="module")
async def gateway(
    migrated: Settings, upstream: Upstream, redis_prefix: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with running_gateway(gateway_settings(migrated, upstream)) as client:
        yield client


async def issue_key(gateway: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    """A new key from the bootstrap admin key; its `secret` is in the answer."""
    answer = await gateway.post("/api/v1/keys", json={"name": "test key", **body}, headers=ADMIN)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def bearer(key: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['secret']}"}
