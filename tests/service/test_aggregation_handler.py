"""The aggregation service on the real Postgres and RabbitMQ: simulation.completed in,
report stored, served and announced out, exactly once."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from contracts.envelope import CloudEvent
from contracts.events.report.v1 import ReportCompleted
from contracts.events.simulation.v1 import ResultFile
from services.aggregation.db.tables import reports
from services.aggregation.domain.report import ResultsError, build_report
from services.aggregation.handlers.simulation_completed import (
    CONSUMER,
    handle_simulation_completed,
)
from services.aggregation.main import create_app
from shared import storage
from shared.db import Database
from shared.settings import Settings
from tests.factories import completed_event
from tests.service.bus import event_tap, publish, wait_until_consumed
from tests.service.schemas import migrated_afresh
from tests.unit.aggregation_results import as_json, parquet, random_frames


@pytest.fixture(scope="module")
def aggregation_settings(settings: Settings) -> Settings:
    """Only the aggregation schema, dropped and migrated afresh for this module."""
    return migrated_afresh(settings, "aggregation")


@pytest.fixture(scope="module")
async def service(
    aggregation_settings: Settings,
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(aggregation_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://aggregation") as client:
            yield app, client


def database_of(app: FastAPI) -> Database:
    database: Database = app.state.process.database
    return database


def write_results(
    root: Path, simulation_id: str, seed: int
) -> tuple[list[ResultFile], pd.DataFrame, pd.DataFrame]:
    households, people = random_frames(seed, households=400)
    files = []
    for name, frame in (("households.parquet", households), ("people.parquet", people)):
        data = parquet(frame)
        uri = f"file://{root}/{simulation_id}/{name}"
        storage.write_bytes(uri, data)
        files.append(ResultFile(uri=uri, sha256=hashlib.sha256(data).hexdigest(), rows=len(frame)))
    return files, households, people


async def count(database: Database, statement: sa.Select[Any]) -> int:
    async with database.engine.connect() as connection:
        return int(await connection.scalar(statement) or 0)


async def stored(database: Database, simulation_id: str) -> tuple[int, int]:
    """How many reports and report.completed outbox rows the simulation has."""
    outbox = database.outbox
    report_rows = await count(
        database,
        sa.select(sa.func.count()).where(reports.c.simulation_id == simulation_id),
    )
    announced = await count(
        database,
        sa.select(sa.func.count()).where(
            outbox.c.event_type == ReportCompleted.event_type,
            outbox.c.envelope["subject"].astext == simulation_id,
        ),
    )
    return report_rows, announced


async def test_unknown_simulation_is_a_404_problem(
    service: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = service
    response = await client.get("/api/v1/simulations/sim-never-run/report")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 404
    assert "report not ready or simulation unknown" in problem["detail"]
    assert problem["instance"] == "/api/v1/simulations/sim-never-run/report"


async def test_completed_simulation_gets_its_report_stored_served_and_announced(
    service: tuple[FastAPI, httpx.AsyncClient], aggregation_settings: Settings, tmp_path: Path
) -> None:
    app, client = service
    simulation_id = f"sim-{uuid.uuid4().hex[:12]}"
    files, households, people = write_results(tmp_path, simulation_id, seed=31)
    event = completed_event(simulation_id, files)

    before = await client.get(f"/api/v1/simulations/{simulation_id}/report")
    assert before.status_code == 404
    assert before.headers["content-type"] == "application/problem+json"

    async with event_tap(aggregation_settings.amqp_url, ReportCompleted.event_type) as tap:
        await publish(aggregation_settings.amqp_url, event)
        announced = await tap.next(timeout=60)

    expected = build_report(households, people)
    assert announced["type"] == "report.completed"
    assert announced["source"] == "/fiscus/aggregation"
    assert announced["subject"] == simulation_id
    payload = CloudEvent.model_validate(announced).payload(ReportCompleted)
    assert payload.simulation_id == simulation_id
    assert payload.budgetary_impact == expected["budget"]["budgetary_impact"]
    assert payload.households == expected["budget"]["households"]

    response = await client.get(f"/api/v1/simulations/{simulation_id}/report")
    assert response.status_code == 200
    body = response.json()
    assert body["simulation_id"] == simulation_id
    assert body["report_id"] == payload.report_id
    assert body["policy_id"] == "pol-ctc-3000" and body["year"] == 2025
    assert body["model_version"] == "policyengine-us 2.68.0"
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    assert body["report"] == as_json(expected)
    assert await stored(database_of(app), simulation_id) == (1, 1)


async def test_the_same_event_delivered_twice_has_one_effect(
    service: tuple[FastAPI, httpx.AsyncClient], aggregation_settings: Settings, tmp_path: Path
) -> None:
    app, client = service
    simulation_id = f"sim-{uuid.uuid4().hex[:12]}"
    files, _, _ = write_results(tmp_path, simulation_id, seed=32)
    event = completed_event(simulation_id, files)

    await publish(aggregation_settings.amqp_url, event)
    await publish(aggregation_settings.amqp_url, event)
    await wait_until_consumed(CONSUMER)

    database = database_of(app)
    assert await stored(database, simulation_id) == (1, 1)
    inbox = database.inbox
    assert (
        await count(database, sa.select(sa.func.count()).where(inbox.c.event_id == event.id)) == 1
    )
    response = await client.get(f"/api/v1/simulations/{simulation_id}/report")
    assert response.status_code == 200


async def test_concurrent_deliveries_of_one_event_build_one_report(
    service: tuple[FastAPI, httpx.AsyncClient], tmp_path: Path
) -> None:
    app, _ = service
    database = database_of(app)
    handler = handle_simulation_completed(database, "/fiscus/aggregation")
    simulation_id = f"sim-{uuid.uuid4().hex[:12]}"
    files, _, _ = write_results(tmp_path, simulation_id, seed=33)
    event = completed_event(simulation_id, files)

    await asyncio.gather(handler(event), handler(event))
    assert await stored(database, simulation_id) == (1, 1)


async def test_another_completion_event_of_the_same_simulation_changes_nothing(
    service: tuple[FastAPI, httpx.AsyncClient], tmp_path: Path
) -> None:
    app, client = service
    database = database_of(app)
    handler = handle_simulation_completed(database, "/fiscus/aggregation")
    simulation_id = f"sim-{uuid.uuid4().hex[:12]}"
    files, _, _ = write_results(tmp_path, simulation_id, seed=34)

    await handler(completed_event(simulation_id, files))
    first = (await client.get(f"/api/v1/simulations/{simulation_id}/report")).json()
    await handler(completed_event(simulation_id, files))
    assert await stored(database, simulation_id) == (1, 1)
    again = (await client.get(f"/api/v1/simulations/{simulation_id}/report")).json()
    assert again["report_id"] == first["report_id"]


async def test_unreadable_results_leave_no_trace(
    service: tuple[FastAPI, httpx.AsyncClient], tmp_path: Path
) -> None:
    app, client = service
    database = database_of(app)
    handler = handle_simulation_completed(database, "/fiscus/aggregation")
    simulation_id = f"sim-{uuid.uuid4().hex[:12]}"
    files, _, _ = write_results(tmp_path, simulation_id, seed=35)
    tampered = [files[0].model_copy(update={"sha256": "f" * 64}), files[1]]
    event = completed_event(simulation_id, tampered)

    with pytest.raises(ResultsError):
        await handler(event)
    assert await stored(database, simulation_id) == (0, 0)
    inbox = database.inbox
    # Not recorded as processed: a redelivery tries again (and the DLQ ends it).
    assert (
        await count(database, sa.select(sa.func.count()).where(inbox.c.event_id == event.id)) == 0
    )
    response = await client.get(f"/api/v1/simulations/{simulation_id}/report")
    assert response.status_code == 404
