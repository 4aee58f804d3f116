"""Content-addressed simulations and cancelling, on the real Postgres and RabbitMQ with
the fake engine of tests/service/simulation_fixtures.py."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from contracts.envelope import CloudEvent
from contracts.events.simulation.v1 import (
    SimulationCancelled,
    SimulationCompleted,
    SimulationFailed,
)
from services.simulation.adapters.admissions import Admissions
from services.simulation.db import simulations as store
from services.simulation.db.tables import simulations
from services.simulation.domain import keys as simulation_keys
from services.simulation.domain.simulations import SimulationRequest, requested_event
from services.simulation.main import create_app
from shared.principals import INTERNAL
from shared.problems import PROBLEM_JSON
from shared.settings import Settings
from tests.service.bus import EventTap, event_tap, publish
from tests.service.simulation_fixtures import (
    FakeEngine,
    FakeResults,
    Worker,
    register_inputs,
    simulation_row,
)

PATH = "/api/v1/simulations"
EVENTS = (
    SimulationCompleted.event_type,
    SimulationFailed.event_type,
    SimulationCancelled.event_type,
)


@dataclass
class Stack:
    worker: Worker
    api: httpx.AsyncClient
    events: EventTap


@pytest.fixture
async def stack(worker: Worker, migrated: Settings) -> AsyncIterator[Stack]:
    app = create_app(migrated)
    async with app.router.lifespan_context(app), event_tap(migrated.amqp_url, *EVENTS) as events:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield Stack(worker, client, events)


async def event_about(stack: Stack, simulation_id: str) -> dict[str, Any]:
    while True:
        document = await stack.events.next(timeout=30)
        if document["subject"] == simulation_id:
            return document


async def outbox_events(stack: Stack, simulation_id: str) -> list[str]:
    outbox = stack.worker.database.outbox
    async with stack.worker.database.engine.connect() as connection:
        rows = await connection.execute(
            sa.select(outbox.c.event_type)
            .where(outbox.c.envelope["subject"].astext == simulation_id)
            .order_by(outbox.c.created_at)
        )
        return list(rows.scalars())


class GatedEngine:
    """Holds the fake engine's calculation until released, to cancel while it runs."""

    def __init__(self, engine: FakeEngine) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self._run = engine.run

    def run(self, *args: Any, **kwargs: Any) -> FakeResults:
        self.started.set()
        self.release.wait(timeout=30)
        return self._run(*args, **kwargs)


async def test_the_same_request_answers_with_the_same_simulation(stack: Stack) -> None:
    dataset_id, policy_id, _, _ = await register_inputs(stack.worker)
    body = {"dataset_id": dataset_id, "policy_id": policy_id, "year": 2026}

    first = await stack.api.post(PATH, json=body)
    again = await stack.api.post(PATH, json={**body, "region": "us"})

    assert first.status_code == 202, first.text
    assert again.status_code == 200, again.text
    simulation_id = first.json()["id"]
    assert again.json()["id"] == simulation_id
    assert again.headers["location"] == f"{PATH}/{simulation_id}"
    assert first.json()["key"] == again.json()["key"] and len(first.json()["key"]) == 64
    assert first.json()["region"] == "us"
    # The worker may have completed it already: count only the requests.
    assert (await outbox_events(stack, simulation_id)).count("simulation.requested") == 1

    assert (await event_about(stack, simulation_id))["type"] == "simulation.completed"
    finished = await stack.api.post(PATH, json=body)
    assert finished.status_code == 200
    assert finished.json()["id"] == simulation_id
    assert finished.json()["status"] == "completed"
    assert finished.json()["results"] is not None
    async with stack.worker.database.engine.connect() as connection:
        rows = await connection.scalar(
            sa.select(sa.func.count()).where(simulations.c.key == first.json()["key"])
        )
    assert rows == 1
    assert len(stack.worker.engine.calls) == 1


async def test_equal_requests_at_the_same_moment_make_one_simulation(stack: Stack) -> None:
    dataset_id, policy_id, _, _ = await register_inputs(stack.worker)
    body = {"dataset_id": dataset_id, "policy_id": policy_id, "year": 2026}

    answers = await asyncio.gather(*(stack.api.post(PATH, json=body) for _ in range(5)))

    assert sorted(a.status_code for a in answers) == [200, 200, 200, 200, 202]
    assert len({a.json()["id"] for a in answers}) == 1
    requested = await outbox_events(stack, answers[0].json()["id"])
    assert requested.count("simulation.requested") == 1


async def test_other_inputs_or_model_version_are_another_simulation(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset_id, policy_id, baseline_id, _ = await register_inputs(stack.worker)
    body = {"dataset_id": dataset_id, "policy_id": policy_id, "year": 2026}
    first = (await stack.api.post(PATH, json=body)).json()

    other_year = await stack.api.post(PATH, json={**body, "year": 2027})
    other_baseline = await stack.api.post(PATH, json={**body, "baseline_policy_id": baseline_id})
    monkeypatch.setattr(simulation_keys, "model_version", lambda: "999.0.0")
    other_model = await stack.api.post(PATH, json=body)

    answers = (other_year, other_baseline, other_model)
    assert [a.status_code for a in answers] == [202, 202, 202]
    ids = {first["id"], *(a.json()["id"] for a in answers)}
    keys = {first["key"], *(a.json()["key"] for a in answers)}
    assert len(ids) == len(keys) == 4


async def test_an_unsupported_region_is_refused(stack: Stack) -> None:
    dataset_id, policy_id, _, _ = await register_inputs(stack.worker)
    body = {"dataset_id": dataset_id, "policy_id": policy_id, "year": 2026, "region": "atlantis"}

    answer = await stack.api.post(PATH, json=body)

    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.json()["errors"][0]["field"] == "body.region"


async def test_a_simulation_cancelled_while_queued_never_runs(stack: Stack) -> None:
    dataset_id, policy_id, _, _ = await register_inputs(stack.worker)
    request = SimulationRequest(dataset_id=dataset_id, policy_id=policy_id, year=2026)
    simulation_id = str(uuid.uuid4())
    # Queued, its request not yet delivered to a worker.
    async with stack.worker.database.unit_of_work() as uow:
        await store.insert_simulation(uow, simulation_id, request)
        await uow.commit()

    cancelled = await stack.api.post(f"{PATH}/{simulation_id}/cancel")

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancelled_at"] is not None
    document = await event_about(stack, simulation_id)
    assert document["type"] == "simulation.cancelled"
    payload = CloudEvent.model_validate(document).payload(SimulationCancelled)
    assert payload.simulation_id == simulation_id

    await publish(
        stack.worker.settings.amqp_url,
        CloudEvent.wrap(
            requested_event(simulation_id, request),
            source="/fiscus/simulation",
            subject=simulation_id,
        ),
    )
    # A sentinel behind it in the queue: once it is done, so is the cancelled one.
    sentinel = await stack.api.post(PATH, json={**request.model_dump(), "year": 2027})
    sentinel_id = sentinel.json()["id"]
    assert (await event_about(stack, sentinel_id))["type"] == "simulation.completed"

    assert [call["year"] for call in stack.worker.engine.calls] == [2027]
    row = await simulation_row(stack.worker, simulation_id)
    assert row["status"] == "cancelled" and row["started_at"] is None
    assert await outbox_events(stack, simulation_id) == ["simulation.cancelled"]


async def test_a_result_arriving_after_a_cancel_is_discarded(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = GatedEngine(stack.worker.engine)
    monkeypatch.setattr(stack.worker.engine, "run", gate.run)
    dataset_id, policy_id, _, _ = await register_inputs(stack.worker)
    body = {"dataset_id": dataset_id, "policy_id": policy_id, "year": 2026}
    simulation_id = (await stack.api.post(PATH, json=body)).json()["id"]
    assert await asyncio.to_thread(gate.started.wait, 30)
    assert (await stack.api.get(f"{PATH}/{simulation_id}")).json()["status"] == "running"

    cancelled = await stack.api.post(f"{PATH}/{simulation_id}/cancel")
    gate.release.set()

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (await event_about(stack, simulation_id))["type"] == "simulation.cancelled"
    # The next simulation completes only after the cancelled one's result was handled.
    sentinel_id = (await stack.api.post(PATH, json={**body, "year": 2027})).json()["id"]
    assert (await event_about(stack, sentinel_id))["type"] == "simulation.completed"

    row = await simulation_row(stack.worker, simulation_id)
    assert row["status"] == "cancelled"
    assert row["results"] is None and row["completed_at"] is None
    assert await outbox_events(stack, simulation_id) == [
        "simulation.requested",
        "simulation.partition.requested",
        "simulation.cancelled",
    ]
    # A cancelled simulation does not answer new requests: asking again runs it anew.
    again = await stack.api.post(PATH, json=body)
    assert again.status_code == 202 and again.json()["id"] != simulation_id


async def test_cancel_is_idempotent_and_refused_once_finished(stack: Stack) -> None:
    dataset_id, policy_id, _, _ = await register_inputs(stack.worker)
    body = {"dataset_id": dataset_id, "policy_id": policy_id, "year": 2026}
    request = SimulationRequest.model_validate(body)
    queued_id = str(uuid.uuid4())
    async with stack.worker.database.unit_of_work() as uow:
        await store.insert_simulation(uow, queued_id, request)
        await uow.commit()

    first = await stack.api.post(f"{PATH}/{queued_id}/cancel")
    second = await stack.api.post(f"{PATH}/{queued_id}/cancel")

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert await outbox_events(stack, queued_id) == ["simulation.cancelled"]

    completed_id = (await stack.api.post(PATH, json=body)).json()["id"]
    assert (await event_about(stack, completed_id))["type"] == "simulation.completed"
    refused = await stack.api.post(f"{PATH}/{completed_id}/cancel")
    assert refused.status_code == 409
    assert refused.headers["content-type"] == PROBLEM_JSON
    assert refused.json()["status"] == 409 and "completed" in refused.json()["detail"]
    assert (await simulation_row(stack.worker, completed_id))["status"] == "completed"

    unknown = await stack.api.post(f"{PATH}/no-such-simulation/cancel")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == PROBLEM_JSON


async def test_requests_arriving_together_are_admitted_together_each_as_alone(
    stack: Stack,
) -> None:
    dataset_id, policy_id, baseline_id, _ = await register_inputs(stack.worker)
    bodies = [
        {"dataset_id": dataset_id, "policy_id": policy_id, "year": year}
        for year in range(2025, 2031)
    ] + [{"dataset_id": dataset_id, "policy_id": policy_id, "baseline_policy_id": baseline_id}]
    bodies = [{"year": 2026, **b} for b in bodies]
    unknown = {"dataset_id": "ds-nowhere", "policy_id": policy_id, "year": 2026}

    answers = await asyncio.gather(
        *(stack.api.post(PATH, json=body) for body in [*bodies, *bodies, unknown])
    )

    *admitted, refused = answers
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["dataset_id"]
    for first, second in zip(admitted[: len(bodies)], admitted[len(bodies) :], strict=True):
        assert sorted([first.status_code, second.status_code]) == [200, 202]
        assert first.json()["id"] == second.json()["id"]
        assert first.headers["location"] == f"{PATH}/{first.json()['id']}"
        requested = await outbox_events(stack, first.json()["id"])
        assert requested.count("simulation.requested") == 1
    assert len({a.json()["key"] for a in admitted}) == len(bodies)


async def test_admissions_made_at_once_share_one_transaction(stack: Stack) -> None:
    dataset_id, policy_id, _, _ = await register_inputs(stack.worker)
    admissions = Admissions(stack.worker.database, "/tests")
    requests = [
        SimulationRequest(dataset_id=dataset_id, policy_id=policy_id, year=year)
        for year in range(2025, 2035)
    ]
    alone = [await admissions.admit([requests[0]], INTERNAL)]

    together = await asyncio.gather(*(admissions.admit([r], INTERNAL) for r in requests))

    assert [a.new for (a,) in together] == [False] + [True] * (len(requests) - 1)
    assert together[0][0].row == alone[0][0].row
    created = {a.row["created_at"] for (a,) in together[1:] if a.row is not None}
    assert len(created) == 1  # one transaction's now()
