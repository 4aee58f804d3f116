"""Partitions, progress, regions, budget windows and failures of partitions, on the real
Postgres and RabbitMQ with the fake engine of simulation_fixtures.py.

The workers here plan one partition per state (`partition_households=1`): the test
population has one household in CA and one in TX.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from contracts.envelope import CloudEvent
from contracts.events.simulation.v1 import (
    SimulationCompleted,
    SimulationPartitionRequested,
    SimulationProgress,
)
from services.simulation.db import partitions as partition_store
from services.simulation.handlers.partitions import PARTITIONS_QUEUE
from services.simulation.main import create_app
from shared import storage
from shared.settings import Settings
from tests.service.bus import queue_depth, wait_until_consumed
from tests.service.simulation_fixtures import (
    FakeResults,
    Worker,
    next_event_about,
    outbox_payloads,
    outcome,
    register_inputs,
    request_simulation,
    running_worker,
    simulation_row,
)

PATH = "/api/v1/simulations"
EVENTS = (SimulationProgress.event_type, "simulation.cancelled")


@pytest.fixture
async def worker(per_state: Settings) -> AsyncIterator[Worker]:
    async with running_worker(per_state, *EVENTS) as started:
        yield started


async def test_a_simulation_is_split_into_partitions_and_completed_by_the_last(
    worker: Worker,
) -> None:
    dataset_id, policy_id, _, _ = await register_inputs(worker)

    simulation_id, _ = await request_simulation(worker, dataset_id, policy_id, None)
    progress, document = await outcome(worker, simulation_id)

    requested = await outbox_payloads(worker, simulation_id, "simulation.partition.requested")
    partitions = sorted(
        (SimulationPartitionRequested.model_validate(data) for data in requested),
        key=lambda p: p.partition,
    )
    assert [(p.partition, p.partitions, p.year, p.states, p.households) for p in partitions] == [
        (0, 2, 2026, ["CA"], 1),
        (1, 2, 2026, ["TX"], 1),
    ]
    assert [(p["partitions_done"], p["households_done"]) for p in progress] == [(1, 1), (2, 2)]
    assert {(p["partitions_total"], p["households_total"]) for p in progress} == {(2, 2)}
    assert progress[0]["estimated_seconds_left"] is not None
    assert progress[0]["elapsed_seconds"] >= 0

    assert document["type"] == "simulation.completed"
    completed = CloudEvent.model_validate(document).payload(SimulationCompleted)
    assert (completed.partitions, completed.years, completed.region) == (2, [2026], "us")
    assert sorted((f.partition, f.name, f.year, f.rows) for f in completed.results) == [
        (0, "households.parquet", 2026, 1),
        (0, "people.parquet", 2026, 2),
        (1, "households.parquet", 2026, 1),
        (1, "people.parquet", 2026, 1),
    ]
    # Each partition ran on its own households only.
    assert sorted(len(call["households"]) for call in worker.engine.calls) == [1, 1]
    row = await simulation_row(worker, simulation_id)
    assert (row["partitions_done"], row["partitions_total"]) == (2, 2)
    assert (row["households_done"], row["households_total"]) == (2, 2)
    async with worker.database.unit_of_work() as uow:
        rows = await partition_store.partitions_of(uow, simulation_id)
    assert [(r["status"], r["attempts"]) for r in rows] == [("done", 1), ("done", 1)]


async def test_the_api_shows_progress(worker: Worker, per_state: Settings) -> None:
    dataset_id, policy_id, _, _ = await register_inputs(worker)
    api = create_app(per_state)
    async with api.router.lifespan_context(api):
        transport = httpx.ASGITransport(api)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            body = {"dataset_id": dataset_id, "policy_id": policy_id, "years": [2026, 2027]}
            created = await client.post(PATH, json=body)
            assert created.status_code == 202, created.text
            assert created.json()["progress"] is None
            simulation_id = created.json()["id"]
            _, document = await outcome(worker, simulation_id)
            assert document["type"] == "simulation.completed"
            found = (await client.get(f"{PATH}/{simulation_id}")).json()
    assert found["years"] == [2026, 2027] and found["year"] == 2026
    progress = found["progress"]
    assert (progress["partitions_done"], progress["partitions_total"]) == (4, 4)
    assert (progress["households_done"], progress["households_total"]) == (4, 4)
    assert progress["estimated_seconds_left"] is None
    assert len(found["results"]) == 8


async def test_a_budget_window_has_partitions_per_year(worker: Worker) -> None:
    dataset_id, policy_id, _, _ = await register_inputs(worker)

    simulation_id, _ = await request_simulation(
        worker, dataset_id, policy_id, None, years=[2025, 2026, 2027], year=None
    )
    progress, document = await outcome(worker, simulation_id)

    assert document["type"] == "simulation.completed"
    completed = CloudEvent.model_validate(document).payload(SimulationCompleted)
    assert completed.years == [2025, 2026, 2027] and completed.year == 2025
    assert completed.partitions == 6 and len(progress) == 6
    assert sorted(call["year"] for call in worker.engine.calls) == [
        2025,
        2025,
        2026,
        2026,
        2027,
        2027,
    ]
    files = {(f.year, f.partition, f.name) for f in completed.results}
    assert {(year, name) for year, _, name in files} == {
        (year, name)
        for year in (2025, 2026, 2027)
        for name in ("households.parquet", "people.parquet")
    }
    assert len({f.uri for f in completed.results}) == 12


async def test_a_region_simulates_only_its_state(worker: Worker) -> None:
    dataset_id, policy_id, _, _ = await register_inputs(worker)

    simulation_id, _ = await request_simulation(worker, dataset_id, policy_id, None, region="TX")
    progress, document = await outcome(worker, simulation_id)

    assert document["type"] == "simulation.completed"
    completed = CloudEvent.model_validate(document).payload(SimulationCompleted)
    assert (completed.region, completed.partitions) == ("TX", 1)
    assert [call["households"] for call in worker.engine.calls] == [[2]]
    assert [p["households_total"] for p in progress] == [1]


async def test_a_region_without_households_fails(worker: Worker) -> None:
    dataset_id, policy_id, _, _ = await register_inputs(worker)

    simulation_id, _ = await request_simulation(worker, dataset_id, policy_id, None, region="NY")
    _, document = await outcome(worker, simulation_id)

    assert document["type"] == "simulation.failed"
    assert document["data"]["error_type"] == "NoHouseholds"
    assert worker.engine.calls == []


class GatedRun:
    """Holds every engine run until released."""

    def __init__(self, run: Any) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self._run = run

    def __call__(self, *args: Any, **kwargs: Any) -> FakeResults:
        self.started.set()
        self.release.wait(timeout=30)
        result: FakeResults = self._run(*args, **kwargs)
        return result


async def test_a_cancelled_simulation_discards_the_running_partition_and_skips_the_rest(
    worker: Worker, per_state: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = GatedRun(worker.engine.run)
    monkeypatch.setattr(worker.engine, "run", gate)
    dataset_id, policy_id, _, _ = await register_inputs(worker)
    api = create_app(per_state)
    async with api.router.lifespan_context(api):
        transport = httpx.ASGITransport(api)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            body = {"dataset_id": dataset_id, "policy_id": policy_id, "year": 2026}
            simulation_id = (await client.post(PATH, json=body)).json()["id"]
            assert await asyncio.to_thread(gate.started.wait, 30)
            cancelled = await client.post(f"{PATH}/{simulation_id}/cancel")
            assert cancelled.status_code == 200, cancelled.text
    gate.release.set()
    assert (await next_event_about(worker.tap, simulation_id))["type"] == "simulation.cancelled"
    await wait_until_consumed(PARTITIONS_QUEUE)

    # One partition was running when the cancel came; the other never ran.
    assert len(worker.engine.calls) == 1
    row = await simulation_row(worker, simulation_id)
    assert row["status"] == "cancelled" and row["partitions_done"] == 0
    assert await outbox_payloads(worker, simulation_id, SimulationProgress.event_type) == []
    assert await outbox_payloads(worker, simulation_id, SimulationCompleted.event_type) == []


async def test_a_partition_failing_beyond_the_attempt_limit_fails_the_simulation_dead_lettered(
    worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_write(uri: str, data: bytes) -> None:
        raise OSError("disk unavailable")

    dataset_id, policy_id, _, _ = await register_inputs(worker)
    monkeypatch.setattr(storage, "write_bytes", broken_write)
    dead_letters = queue_depth(f"{PARTITIONS_QUEUE}.dlq")

    simulation_id, _ = await request_simulation(worker, dataset_id, policy_id, None, region="CA")
    _, document = await outcome(worker, simulation_id)

    limit = worker.settings.delivery_limit
    assert document["type"] == "simulation.failed"
    assert document["data"]["error_type"] == "AttemptsExhausted"
    assert document["data"]["reason"] == (
        f"partition 0 (2026: CA): AttemptsExhausted: started {limit} times without finishing; "
        "a worker computing it may have run out of memory"
    )
    row = await simulation_row(worker, simulation_id)
    assert row["status"] == "failed" and row["error_reason"] == document["data"]["reason"]
    async with worker.database.unit_of_work() as uow:
        partition = await partition_store.find_partition(uow, simulation_id, 0)
    assert partition is not None and partition["attempts"] == limit + 1
    assert len(worker.engine.calls) == limit
    async with asyncio.timeout(10):
        while queue_depth(f"{PARTITIONS_QUEUE}.dlq") != dead_letters + 1:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
