"""The gateway on its own: keys, problem+json, request ids, unreachable services."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from services.gateway.main import create_app
from shared.settings import Settings

KEY = "fk_test_gateway_key"


@pytest.fixture
async def gateway(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    # Ports nothing listens on: every upstream service is down.
    settings = migrated.model_copy(
        update={
            "admin_api_key": KEY,
            "dataset_port": 1,
            "policy_port": 1,
            "simulation_port": 1,
            "aggregation_port": 1,
        }
    )
    settings = Settings.model_validate(settings.model_dump())
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


async def test_missing_key_is_401_problem(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/api/v1/simulations", headers={"X-Request-ID": "req-123"})
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["x-request-id"] == "req-123"
    problem = answer.json()
    assert problem["status"] == 401
    assert problem["request_id"] == "req-123"
    assert problem["instance"] == "/api/v1/simulations"


async def test_unknown_route_is_404_problem(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/api/v1/nothing-here", headers={"Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


async def test_unreachable_service_is_503_problem(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/api/v1/datasets", headers={"Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert "dataset" in answer.json()["detail"]


async def test_readyz_names_what_is_not_ready(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/readyz")
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["dataset"] != "ok"
    assert (await gateway.get("/healthz")).status_code == 200


async def test_the_gateway_records_no_events_and_runs_no_outbox_relay(migrated: Settings) -> None:
    app = create_app(migrated)
    process = app.state.process
    try:
        assert process.relay is None
        assert process.database.on_events_committed == []
        assert not {"gateway.outbox", "gateway.inbox"} & set(process.database.metadata.tables)
        async with app.router.lifespan_context(app):
            assert [task.get_name() for task in asyncio.all_tasks()].count("outbox-relay") == 0
    finally:
        await process.database.engine.dispose()
