"""The simulation worker on the real Postgres and RabbitMQ, with a fake population engine
(tests/service/simulation_fixtures.py).

The real engine (policyengine-us) is exercised by the engine's own and the end-to-end
tests; here the engine only has to honour the interface and the results format.
"""

from __future__ import annotations

import asyncio
import io
import threading
import uuid
from pathlib import Path

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from contracts.envelope import CloudEvent
from contracts.events.simulation.v1 import (
    SimulationCompleted,
    SimulationFailed,
)
from contracts.results.v1 import household_columns, person_columns
from services.simulation.db import partitions as partition_store
from services.simulation.domain.baselines import baseline_key
from services.simulation.domain.reform_arm import FULL, REQUESTED
from services.simulation.domain.systems import reform_hash
from services.simulation.main import create_app, create_worker_app
from shared import storage
from shared.settings import Settings
from tests.factories import content_hash
from tests.service.bus import publish
from tests.service.simulation_fixtures import (
    BASELINE,
    REFORM,
    FakeEngine,
    Worker,
    next_event_about,
    register_inputs,
    request_simulation,
    simulation_row,
)


async def test_a_requested_simulation_runs_and_its_results_are_published(worker: Worker) -> None:
    dataset_id, policy_id, baseline_id, _ = await register_inputs(worker)

    simulation_id, request = await request_simulation(worker, dataset_id, policy_id, baseline_id)
    document = await next_event_about(worker.tap, simulation_id)

    assert document["type"] == "simulation.completed"
    completed = CloudEvent.model_validate(document).payload(SimulationCompleted)
    assert completed.model_version == "fake-engine-1"
    assert completed.dataset_sha256 == content_hash(dataset_id)
    assert (completed.dataset_id, completed.policy_id, completed.year) == (
        dataset_id,
        policy_id,
        2026,
    )
    assert completed.started_at <= completed.completed_at
    assert [Path(f.uri).name for f in completed.results] == ["households.parquet", "people.parquet"]
    for result, columns, rows in zip(
        completed.results, (household_columns(), person_columns()), (2, 3), strict=True
    ):
        assert result.uri.startswith(f"{worker.settings.resolved_storage_url}/results/")
        assert storage.sha256_of(result.uri) == result.sha256
        frame = pd.read_parquet(io.BytesIO(storage.read_bytes(result.uri)))
        assert list(frame.columns) == columns
        assert result.rows == rows == len(frame)

    assert worker.engine.calls[-1]["reform"] == REFORM
    assert worker.engine.calls[-1]["baseline"] == BASELINE
    assert worker.engine.calls[-1]["thread"] != threading.get_ident()

    row = await simulation_row(worker, simulation_id)
    assert row["status"] == "completed" and row["attempts"] == 1
    assert row["model_version"] == "fake-engine-1"
    assert [f["sha256"] for f in row["results"]] == [f.sha256 for f in completed.results]
    assert set(row["timings"]) == {
        "load_seconds",
        "calculation_seconds",
        "write_seconds",
        "total_seconds",
        "reform_paths",
        "full_path_reasons",
        "baselines_reused",
    }
    assert row["timings"]["reform_paths"] == {FULL: 1}
    assert row["timings"]["full_path_reasons"] == [REQUESTED]
    assert row["timings"]["baselines_reused"] == 0
    # The baseline's content address: the dataset's hash, the year, the population part,
    # the baseline policy's hash and the model version.
    assert worker.engine.calls[-1]["baseline_key"] == baseline_key(
        row["dataset_sha256"], 2026, "all", reform_hash(BASELINE), "fake-engine-1"
    )
    inbox = worker.database.inbox
    async with worker.database.engine.connect() as connection:
        processed = await connection.scalar(
            sa.select(sa.func.count()).where(inbox.c.event_id == request.id)
        )
    assert processed == 1


async def test_a_redelivered_request_for_a_completed_simulation_does_nothing(
    worker: Worker,
) -> None:
    dataset_id, policy_id, _, _ = await register_inputs(worker)
    simulation_id, request = await request_simulation(worker, dataset_id, policy_id, None)
    await next_event_about(worker.tap, simulation_id)
    calls = len(worker.engine.calls)

    # The same request delivered again, as after a lost acknowledgement, and a copy
    # under another event id.
    await publish(worker.settings.amqp_url, request)
    await publish(worker.settings.amqp_url, request.model_copy(update={"id": str(uuid.uuid4())}))
    # A sentinel behind them in the queue: once it is done, so are they.
    sentinel_id, _ = await request_simulation(worker, dataset_id, policy_id, None)
    await next_event_about(worker.tap, sentinel_id)

    assert len(worker.engine.calls) == calls + 1
    assert (await simulation_row(worker, simulation_id))["attempts"] == 1


async def test_an_engine_error_fails_the_simulation_with_its_reason(worker: Worker) -> None:
    worker.engine.failure = ValueError("the reform breaks the model")
    dataset_id, policy_id, _, _ = await register_inputs(worker)

    simulation_id, _ = await request_simulation(worker, dataset_id, policy_id, None)
    document = await next_event_about(worker.tap, simulation_id)

    assert document["type"] == "simulation.failed"
    failed = CloudEvent.model_validate(document).payload(SimulationFailed)
    assert failed.error_type == "ValueError"
    # The partition that failed leads the reason.
    assert failed.reason == "partition 0 (2026: CA, TX): ValueError: the reform breaks the model"
    row = await simulation_row(worker, simulation_id)
    assert row["status"] == "failed"
    assert (row["error_type"], row["error_reason"]) == ("ValueError", failed.reason)
    assert row["results"] is None
    results = storage.join(worker.settings.resolved_storage_url, "results", simulation_id)
    assert not storage.exists(results)


async def test_a_missing_dataset_file_fails_the_simulation(worker: Worker) -> None:
    dataset_id, policy_id, _, _ = await register_inputs(worker, with_files=False)

    simulation_id, _ = await request_simulation(worker, dataset_id, policy_id, None)
    document = await next_event_about(worker.tap, simulation_id)

    assert document["type"] == "simulation.failed"
    assert document["data"]["error_type"] == "FileNotFoundError"
    assert worker.engine.calls == []


async def test_a_storage_fault_after_the_calculation_is_retried_by_redelivery(
    worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset_id, policy_id, _, _ = await register_inputs(worker)
    real_write = storage.write_bytes
    faults = [OSError("disk unavailable")]

    def flaky_write(uri: str, data: bytes) -> None:
        if faults:
            raise faults.pop()
        real_write(uri, data)

    monkeypatch.setattr(storage, "write_bytes", flaky_write)

    simulation_id, _ = await request_simulation(worker, dataset_id, policy_id, None)
    document = await next_event_about(worker.tap, simulation_id)

    assert document["type"] == "simulation.completed"
    assert (await simulation_row(worker, simulation_id))["attempts"] == 1
    async with worker.database.unit_of_work() as uow:
        partition = await partition_store.find_partition(uow, simulation_id, 0)
    assert partition is not None and partition["attempts"] == 2
    assert len(worker.engine.calls) == 2


async def test_a_simulation_started_too_often_fails_without_running(worker: Worker) -> None:
    dataset_id, policy_id, _, _ = await register_inputs(worker)
    limit = worker.settings.delivery_limit

    simulation_id, _ = await request_simulation(worker, dataset_id, policy_id, None, attempts=limit)
    document = await next_event_about(worker.tap, simulation_id)

    assert document["type"] == "simulation.failed"
    assert document["data"]["error_type"] == "AttemptsExhausted"
    assert worker.engine.calls == []


async def test_readiness_waits_for_the_engine(migrated: Settings) -> None:
    release = threading.Event()

    def slow_factory() -> FakeEngine:
        release.wait(timeout=30)
        return FakeEngine()

    app = create_worker_app(migrated, slow_factory, exit_on_engine_failure=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            assert (await client.get("/healthz")).status_code == 200
            building = await client.get("/readyz")
            assert building.status_code == 503
            assert "being built" in building.json()["checks"]["engine"]
            release.set()
            for _ in range(100):
                ready = await client.get("/readyz")
                if ready.status_code == 200:
                    break
                await asyncio.sleep(0.05)
            assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "engine": "ok"}


async def test_a_simulation_requested_through_the_api_completes(
    worker: Worker, migrated: Settings
) -> None:
    dataset_id, policy_id, _, _ = await register_inputs(worker)
    api = create_app(migrated)
    async with api.router.lifespan_context(api):
        transport = httpx.ASGITransport(api)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            created = await client.post(
                "/api/v1/simulations",
                json={"dataset_id": dataset_id, "policy_id": policy_id, "year": 2026},
            )
            assert created.status_code == 202
            simulation_id = created.json()["id"]
            document = await next_event_about(worker.tap, simulation_id)
            assert document["type"] == "simulation.completed"
            found = (await client.get(created.headers["location"])).json()
    assert found["status"] == "completed"
    assert found["model_version"] == "fake-engine-1"
    assert [r["name"] for r in found["results"]] == ["households.parquet", "people.parquet"]
    assert found["error"] is None
