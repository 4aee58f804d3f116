"""A gateway in front of the real dataset, simulation and webhooks services.

Each service runs its own app (lifespan, outbox relay, consumers) under uvicorn on a
free port; the gateway reaches them over real HTTP, with real Postgres, Redis and
RabbitMQ behind. The policy service, which needs policyengine-us, is started only by
`policy_gateway`; for `stack`, policies reach the simulation service as
`policy.created` events on the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from fastapi import FastAPI

from contracts.envelope import CloudEvent
from contracts.events.policy.v1 import PolicyCreated
from services.dataset.main import create_app as dataset_app
from services.gateway.domain.routing import UPSTREAMS
from services.policy.main import create_app as policy_app
from services.simulation.main import create_app as simulation_app
from services.webhooks.main import create_app as webhooks_app
from shared.settings import Settings
from tests.policy_fixtures import LOAD_TIMEOUT_SECONDS, US_PARAMETER_TREE
from tests.service.bus import publish
from tests.service.gateway_fixtures import ADMIN, ADMIN_KEY, REDIS_PREFIX, running_gateway

JWT_SECRET = "test-secret-" + uuid.uuid4().hex
REFORM = {"gov.irs.credits.ctc.amount.base[0].amount": {"2025-01-01.2100-12-31": 3000}}


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[int]:
    """`app` with its lifespan under uvicorn on a free port; yields the port."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(3000):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert server.started, "a service did not start"
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


def free_port() -> int:
    """A port nothing listens on: a service the gateway then finds unreachable."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Stack:
    gateway: httpx.AsyncClient
    settings: Settings


@pytest.fixture(scope="module")
async def stack(migrated: Settings) -> AsyncIterator[Stack]:
    services = migrated.model_copy(update={"webhooks_allow_private": True})
    async with contextlib.AsyncExitStack() as running:
        ports = {service: free_port() for service in UPSTREAMS}
        ports["dataset"] = await running.enter_async_context(served(dataset_app(services)))
        ports["simulation"] = await running.enter_async_context(served(simulation_app(services)))
        ports["webhooks"] = await running.enter_async_context(served(webhooks_app(services)))
        update: dict[str, Any] = {
            "admin_api_key": ADMIN_KEY,
            "redis_key_prefix": REDIS_PREFIX,
            "jwt_secret": JWT_SECRET,
            # Generous: a loaded machine must not turn a slow Redis answer into a 503.
            "redis_timeout_seconds": 5.0,
            **{f"{service}_port": port for service, port in ports.items()},
        }
        settings = Settings.model_validate(services.model_copy(update=update).model_dump())
        gateway = await running.enter_async_context(running_gateway(settings))
        yield Stack(gateway=gateway, settings=settings)


def token(
    subject: str,
    role: str,
    *,
    secret: str = JWT_SECRET,
    expires_in: float = 300,
    **claims: Any,
) -> dict[str, str]:
    """`Authorization` for an HS256 JWT naming `subject` with `role`."""
    payload = {"sub": subject, "role": role, "exp": int(time.time() + expires_in), **claims}
    return {"Authorization": f"Bearer {jwt.encode(payload, secret, algorithm='HS256')}"}


async def known_policy(amqp_url: str, owner: str | None = None) -> str:
    """A policy the simulation service will know: its `policy.created` event, published."""
    policy_id = str(uuid.uuid4())
    event = PolicyCreated(
        policy_id=policy_id,
        name=f"policy {policy_id[:8]}",
        sha256=hashlib.sha256(policy_id.encode()).hexdigest(),
        data=REFORM,
        owner=owner,
    )
    await publish(amqp_url, CloudEvent.wrap(event, source="/fiscus/policy", subject=policy_id))
    return policy_id


async def synthetic_dataset(
    gateway: httpx.AsyncClient, headers: dict[str, str], seed: int
) -> dict[str, Any]:
    """A small synthetic dataset generated from `seed`."""
    answer = await gateway.post(
        "/api/v1/datasets/synthetic",
        json={"name": f"synthetic {seed}", "households": 200, "seed": seed},
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


@pytest.fixture(scope="module")
async def population(stack: Stack) -> dict[str, Any]:
    """One synthetic dataset of the module, which every caller may use."""
    return await synthetic_dataset(stack.gateway, ADMIN, seed=1)


@pytest.fixture(scope="module")
async def policy_gateway(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway in front of the real policy, dataset and simulation services."""
    await asyncio.to_thread(US_PARAMETER_TREE.wait, LOAD_TIMEOUT_SECONDS)
    async with contextlib.AsyncExitStack() as running:
        ports = {service: free_port() for service in UPSTREAMS}
        ports["policy"] = await running.enter_async_context(
            served(policy_app(migrated, parameter_tree=US_PARAMETER_TREE))
        )
        ports["dataset"] = await running.enter_async_context(served(dataset_app(migrated)))
        ports["simulation"] = await running.enter_async_context(served(simulation_app(migrated)))
        update: dict[str, Any] = {
            "admin_api_key": ADMIN_KEY,
            "redis_key_prefix": REDIS_PREFIX,
            "redis_timeout_seconds": 5.0,
            **{f"{service}_port": port for service, port in ports.items()},
        }
        settings = Settings.model_validate(migrated.model_copy(update=update).model_dump())
        yield await running.enter_async_context(running_gateway(settings))
