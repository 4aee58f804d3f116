"""Extra outputs of a simulation request: validated, stored, keyed and announced."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa

from services.simulation.db.tables import simulations
from services.simulation.main import create_app
from shared.db import Database
from shared.settings import Settings
from tests.factories import dataset_event, new_id, policy_event
from tests.service.simulation_fixtures import project


@pytest.fixture
async def api(migrated: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    app = create_app(migrated)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://simulation") as client:
            yield client, app.state.process.database


async def test_outputs_are_stored_announced_and_part_of_the_key(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    client, database = api
    dataset_id, policy_id = new_id("ds"), new_id("pol")
    await project(database, dataset_event(dataset_id), policy_event(policy_id))
    body = {"dataset_id": dataset_id, "policy_id": policy_id, "year": 2026}

    plain = await client.post("/api/v1/simulations", json=body)
    with_outputs = await client.post(
        "/api/v1/simulations", json=body | {"outputs": ["aca_ptc", "medicaid", "aca_ptc"]}
    )
    reordered = await client.post(
        "/api/v1/simulations", json=body | {"outputs": ["medicaid", "aca_ptc"]}
    )

    assert plain.status_code == 202 and with_outputs.status_code == 202, with_outputs.text
    resource = with_outputs.json()
    assert resource["outputs"] == ["aca_ptc", "medicaid"] and plain.json()["outputs"] == []
    assert resource["key"] != plain.json()["key"]
    # The same outputs in another order are the same calculation.
    assert reordered.status_code == 200 and reordered.json()["id"] == resource["id"]

    outbox = database.outbox
    async with database.engine.connect() as connection:
        stored = (
            await connection.execute(
                sa.select(simulations.c.outputs).where(simulations.c.id == resource["id"])
            )
        ).scalar_one()
        envelope = (
            await connection.execute(
                sa.select(outbox.c.envelope).where(
                    outbox.c.envelope["subject"].astext == resource["id"]
                )
            )
        ).scalar_one()
    assert stored == ["aca_ptc", "medicaid"]
    assert envelope["data"]["outputs"] == ["aca_ptc", "medicaid"]


async def test_malformed_output_names_are_a_422_naming_the_field(
    api: tuple[httpx.AsyncClient, Database],
) -> None:
    client, database = api
    dataset_id, policy_id = new_id("ds"), new_id("pol")
    await project(database, dataset_event(dataset_id), policy_event(policy_id))
    response = await client.post(
        "/api/v1/simulations",
        json={
            "dataset_id": dataset_id,
            "policy_id": policy_id,
            "year": 2026,
            "outputs": ["snap", "DROP TABLE"],
        },
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["field"] == "body.outputs"
    assert "DROP TABLE" in problem["errors"][0]["message"]
