"""The simulation service's API process on the real Postgres and RabbitMQ."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from services.simulation.db import projections
from services.simulation.db.tables import datasets, policies, simulations
from services.simulation.handlers.projections import DATASETS_QUEUE
from services.simulation.main import create_app
from shared.db import Database
from shared.problems import PROBLEM_JSON
from shared.settings import Settings
from tests.factories import dataset_event, new_id, policy_event
from tests.service.bus import publish, wait_until_consumed
from tests.service.simulation_fixtures import project

REFORM = {"gov.irs.credits.ctc.amount.base[0].amount": {"2025-01-01.2100-12-31": 3000}}


@pytest.fixture
async def api(migrated: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    app = create_app(migrated)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://simulation") as client:
            yield client, app.state.process.database


async def count(database: Database, statement: sa.Select[Any]) -> int:
    async with database.engine.connect() as connection:
        return int(await connection.scalar(statement) or 0)


async def test_create_stores_the_simulation_and_its_event_in_one_transaction(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    client, database = api
    dataset_id, policy_id, baseline_id = new_id("ds"), new_id("pol"), new_id("pol")
    await project(database, dataset_event(dataset_id), policy_event(policy_id))
    await project(database, policy_event(baseline_id))

    body = {
        "dataset_id": dataset_id,
        "policy_id": policy_id,
        "baseline_policy_id": baseline_id,
        "year": 2026,
    }
    response = await client.post("/api/v1/simulations", json=body)

    assert response.status_code == 202, response.text
    resource = response.json()
    assert response.headers["location"] == f"/api/v1/simulations/{resource['id']}"
    assert resource["status"] == "queued"
    assert {k: resource[k] for k in body} == body
    assert resource["started_at"] is None and resource["results"] is None

    outbox = database.outbox
    async with database.engine.connect() as connection:
        stored = (
            await connection.execute(
                sa.select(simulations).where(simulations.c.id == resource["id"])
            )
        ).one()
        events = (
            await connection.execute(
                sa.select(outbox).where(outbox.c.envelope["subject"].astext == resource["id"])
            )
        ).all()
    assert stored.status == "queued" and stored.year == 2026
    assert len(events) == 1
    assert events[0].event_type == "simulation.requested"
    assert events[0].envelope["data"] == {
        "simulation_id": resource["id"],
        "region": "us",
        "years": [2026],
        "outputs": [],
        **body,
    }
    # now() is the transaction's start time: equal stamps mean one transaction.
    assert events[0].created_at == stored.created_at


async def test_get_returns_the_resource_and_404_when_unknown(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    client, database = api
    dataset_id, policy_id = new_id("ds"), new_id("pol")
    await project(database, dataset_event(dataset_id), policy_event(policy_id))
    created = await client.post(
        "/api/v1/simulations", json={"dataset_id": dataset_id, "policy_id": policy_id, "year": 2025}
    )

    found = await client.get(created.headers["location"])
    assert found.status_code == 200
    assert found.json() == created.json()

    missing = await client.get("/api/v1/simulations/no-such-simulation")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM_JSON
    assert "no-such-simulation" in missing.json()["detail"]


async def test_unknown_dataset_and_policy_are_refused_and_nothing_is_stored(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    client, database = api
    dataset_id, policy_id = new_id("ds"), new_id("pol")

    response = await client.post(
        "/api/v1/simulations", json={"dataset_id": dataset_id, "policy_id": policy_id, "year": 2026}
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert {e["field"] for e in problem["errors"]} == {"dataset_id", "policy_id"}
    assert f"dataset_id: unknown dataset {dataset_id}" in problem["detail"]
    assert (
        await count(
            database,
            sa.select(sa.func.count()).where(simulations.c.dataset_id == dataset_id),
        )
        == 0
    )
    outbox = database.outbox
    assert (
        await count(
            database,
            sa.select(sa.func.count()).where(
                outbox.c.envelope["data"]["dataset_id"].astext == dataset_id
            ),
        )
        == 0
    )


async def test_unknown_baseline_policy_is_named(api: tuple[httpx.AsyncClient, Database]) -> None:
    client, database = api
    dataset_id, policy_id = new_id("ds"), new_id("pol")
    await project(database, dataset_event(dataset_id), policy_event(policy_id))

    response = await client.post(
        "/api/v1/simulations",
        json={
            "dataset_id": dataset_id,
            "policy_id": policy_id,
            "baseline_policy_id": "pol-unknown",
            "year": 2026,
        },
    )

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["baseline_policy_id"]


async def test_a_dataset_projected_while_the_request_waits_is_accepted(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    client, database = api
    dataset_id, policy_id = new_id("ds"), new_id("pol")
    await project(database, policy_event(policy_id))

    async def register_late() -> None:
        await asyncio.sleep(0.3)
        await project(database, dataset_event(dataset_id))

    late = asyncio.create_task(register_late())
    response = await client.post(
        "/api/v1/simulations", json={"dataset_id": dataset_id, "policy_id": policy_id, "year": 2026}
    )
    await late

    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b'{"dataset_id": "d", "policy_id":', None),
        (json.dumps({"dataset_id": "d", "policy_id": "p", "year": 1999}).encode(), "body.year"),
        (json.dumps({"dataset_id": "d", "year": 2026}).encode(), "body.policy_id"),
    ],
)
async def test_malformed_bodies_are_refused_as_problems(
    api: tuple[httpx.AsyncClient, Database], content: bytes, field: str | None
) -> None:
    client, _ = api
    response = await client.post(
        "/api/v1/simulations", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    if field is not None:
        assert field in [e["field"] for e in response.json()["errors"]]


async def test_list_is_newest_first_with_a_cursor(api: tuple[httpx.AsyncClient, Database]) -> None:
    client, database = api
    dataset_id, policy_id = new_id("ds"), new_id("pol")
    await project(database, dataset_event(dataset_id), policy_event(policy_id))
    body = {"dataset_id": dataset_id, "policy_id": policy_id}
    # Distinct years: an equal request would answer with the existing simulation.
    created = [
        (await client.post("/api/v1/simulations", json=body | {"year": year})).json()["id"]
        for year in (2026, 2027, 2028)
    ]

    first = (await client.get("/api/v1/simulations", params={"limit": 2})).json()
    assert [item["id"] for item in first["items"]] == created[::-1][:2]
    second = (
        await client.get("/api/v1/simulations", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert second["items"][0]["id"] == created[0]

    queued = (await client.get("/api/v1/simulations", params={"status": "queued"})).json()
    assert all(item["status"] == "queued" for item in queued["items"])

    bad = await client.get("/api/v1/simulations", params={"cursor": "garbage"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "cursor"


async def test_a_redelivered_projection_event_has_one_effect(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    _, database = api
    event = dataset_event(new_id("ds"))

    await project(database, event, event)

    inbox = database.inbox
    assert (
        await count(
            database, sa.select(sa.func.count()).where(datasets.c.dataset_id == event.subject)
        )
        == 1
    )
    assert (
        await count(database, sa.select(sa.func.count()).where(inbox.c.event_id == event.id)) == 1
    )


async def test_an_older_event_does_not_overwrite_a_newer_projection(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    _, database = api
    dataset_id = new_id("ds")
    newer = dataset_event(dataset_id, storage_uri="file:///newer")
    older = dataset_event(dataset_id, storage_uri="file:///older")
    older.time = newer.time - timedelta(minutes=1)

    await project(database, newer, older)

    async with database.unit_of_work() as uow:
        view = await projections.find_dataset(uow, dataset_id)
    assert view is not None and view.storage_uri == "file:///newer"


async def test_projection_consumers_take_events_from_the_broker_once(
    api: tuple[httpx.AsyncClient, Database], migrated: Settings
) -> None:
    client, database = api
    dataset = dataset_event(new_id("ds"))
    policy = policy_event(new_id("pol"))

    await publish(migrated.amqp_url, dataset)
    await publish(migrated.amqp_url, dataset)
    await publish(migrated.amqp_url, policy)
    await wait_until_consumed(DATASETS_QUEUE)
    await wait_until_consumed("simulation.policy-created")

    inbox = database.inbox
    assert (
        await count(
            database, sa.select(sa.func.count()).where(datasets.c.dataset_id == dataset.subject)
        )
        == 1
    )
    assert (
        await count(database, sa.select(sa.func.count()).where(inbox.c.event_id == dataset.id)) == 1
    )
    async with database.unit_of_work() as uow:
        view = await projections.find_policy(uow, str(policy.subject))
    assert view is not None and view.data == REFORM
    assert (
        await count(
            database, sa.select(sa.func.count()).where(policies.c.policy_id == policy.subject)
        )
        == 1
    )

    response = await client.post(
        "/api/v1/simulations",
        json={"dataset_id": dataset.subject, "policy_id": policy.subject, "year": 2026},
    )
    assert response.status_code == 202
