"""The simulation worker on the real Postgres and RabbitMQ, with a fake population engine.

The real engine (policyengine-us) is exercised by the engine's own and the end-to-end
tests; here the engine only has to honour the interface and the results format.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from contracts.envelope import CloudEvent
from contracts.events.dataset.v1 import DatasetRegistered
from contracts.events.policy.v1 import PolicyCreated
from contracts.events.simulation.v1 import (
    SimulationCompleted,
    SimulationFailed,
)
from contracts.results.v1 import household_columns, person_columns
from services.simulation.db import partitions as partition_store
from services.simulation.db import projections
from services.simulation.db import simulations as store
from services.simulation.db.tables import metadata, simulations
from services.simulation.domain.baselines import baseline_key
from services.simulation.domain.reform_arm import FULL, REQUESTED, ReformArm
from services.simulation.domain.simulations import SimulationRequest, requested_event
from services.simulation.domain.systems import reform_hash
from services.simulation.handlers.partitions import PARTITIONS_QUEUE
from services.simulation.handlers.requests import REQUESTS_QUEUE
from services.simulation.main import create_app, create_worker_app
from shared import storage
from shared.db import Database, create_engine
from shared.population import ENTITIES, Population, to_parquet_bytes, write_population
from shared.settings import Settings
from tests.service.bus import EventTap, event_tap, publish

REFORM = {"gov.irs.credits.ctc.amount.base[0].amount": {"2025-01-01.2100-12-31": 3000}}
BASELINE = {"gov.irs.credits.ctc.amount.base[0].amount": {"2025-01-01.2100-12-31": 2000}}


FAKE_ARM = ReformArm(FULL, REQUESTED)


@dataclass(frozen=True)
class FakeResults:
    households: pd.DataFrame
    people: pd.DataFrame
    reform_arm: ReformArm = FAKE_ARM
    baseline_source: str = "calculated"


@dataclass
class FakeEngine:
    """Results in the published format, one row per household and per person."""

    failure: Exception | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    # Set: each run waits for it (a test acts while a partition is being computed).
    gate: threading.Event | None = None

    @property
    def model_version(self) -> str:
        return "fake-engine-1"

    def run(
        self,
        population: Population,
        year: int,
        reform: dict[str, dict[str, Any]],
        baseline: dict[str, dict[str, Any]] | None = None,
        outputs: Sequence[str] = (),
        baseline_key: str | None = None,
    ) -> FakeResults:
        self.calls.append(
            {
                "baseline_key": baseline_key,
                "year": year,
                "reform": reform,
                "baseline": baseline,
                "thread": threading.get_ident(),
                "households": population["household"]["household_id"].tolist(),
            }
        )
        if self.gate is not None:
            self.gate.wait(timeout=60)
        if self.failure is not None:
            raise self.failure
        households = population["household"]
        people = population["person"]
        household_frame = pd.DataFrame({c: [1.0] * len(households) for c in household_columns()})
        household_frame["household_id"] = households["household_id"].to_numpy()
        person_frame = pd.DataFrame({c: [0.0] * len(people) for c in person_columns()})
        person_frame["person_id"] = people["person_id"].to_numpy()
        return FakeResults(households=household_frame, people=person_frame)


def population_files() -> dict[str, bytes]:
    frames = {
        "person": pd.DataFrame(
            {
                "person_id": [1, 2, 3],
                "person_household_id": [1, 1, 2],
                "person_tax_unit_id": [1, 1, 2],
                "person_spm_unit_id": [1, 1, 2],
                "person_family_id": [1, 1, 2],
                "person_marital_unit_id": [1, 2, 3],
                "age": [40, 10, 70],
            }
        ),
        "household": pd.DataFrame(
            {
                "household_id": [1, 2],
                "household_weight": [1.0, 2.0],
                "state_fips": [6, 48],
                "state_code_str": ["CA", "TX"],
            }
        ),
    }
    for entity in ENTITIES:
        if entity not in frames:
            ids = [1, 2, 3] if entity == "marital_unit" else [1, 2]
            frames[entity] = pd.DataFrame({f"{entity}_id": ids})
    return {entity: to_parquet_bytes(frame) for entity, frame in frames.items()}


@dataclass
class Worker:
    settings: Settings
    database: Database
    engine: FakeEngine
    tap: EventTap
    client: httpx.AsyncClient


async def purge_requests(amqp_url: str) -> None:
    """Drop requests and partitions that other tests' processes left behind."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        for name in (REQUESTS_QUEUE, PARTITIONS_QUEUE):
            channel = await connection.channel()
            try:
                queue = await channel.declare_queue(name, passive=True)
            except aio_pika.exceptions.ChannelNotFoundEntity:
                continue
            await queue.purge()


@pytest.fixture
async def worker(migrated: Settings) -> AsyncIterator[Worker]:
    async with running_worker(migrated) as started:
        yield started


@asynccontextmanager
async def running_worker(
    settings: Settings, *extra_events: str, purge: bool = True
) -> AsyncIterator[Worker]:
    """A worker process on the fake engine, with a tap on the simulations' outcomes;
    it starts from empty worker queues unless `purge` is False."""
    migrated = settings
    engine = FakeEngine()
    database = Database(create_engine(migrated.service_database_url("simulation")), metadata)
    async with database.engine.begin() as connection:
        await connection.execute(
            database.outbox.update()
            .where(database.outbox.c.sent_at.is_(None))
            .values(sent_at=sa.func.now())
        )
    if purge:
        await purge_requests(migrated.amqp_url)
    app = create_worker_app(migrated, lambda: engine, exit_on_engine_failure=False)
    keys = (SimulationCompleted.event_type, SimulationFailed.event_type, *extra_events)
    async with app.router.lifespan_context(app), event_tap(migrated.amqp_url, *keys) as tap:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            yield Worker(migrated, database, engine, tap, client)
    await database.engine.dispose()


def content_hash(name: str) -> str:
    """A distinct content per dataset or policy: equal hashes would make equal simulations."""
    return hashlib.sha256(name.encode()).hexdigest()


async def register_inputs(worker: Worker, *, with_files: bool = True) -> tuple[str, str, str, str]:
    """A dataset (files and projection) and two policies; returns their ids and storage URI."""
    dataset_id = f"ds-{uuid.uuid4().hex[:12]}"
    policy_id, baseline_id = f"pol-{uuid.uuid4().hex[:12]}", f"pol-{uuid.uuid4().hex[:12]}"
    storage_uri = storage.join(worker.settings.resolved_storage_url, "datasets", dataset_id)
    if with_files:
        write_population(storage_uri, population_files())
    dataset = DatasetRegistered(
        dataset_id=dataset_id,
        name=dataset_id,
        storage_uri=storage_uri,
        sha256=content_hash(dataset_id),
        year=2024,
        households=2,
        people=3,
        states=["CA", "TX"],
    )
    async with worker.database.unit_of_work() as uow:
        now = CloudEvent.wrap(dataset, source="/tests").time
        await projections.record_dataset(uow, dataset, now)
        for pid, data in ((policy_id, REFORM), (baseline_id, BASELINE)):
            policy = PolicyCreated(policy_id=pid, name=pid, sha256=content_hash(pid), data=data)
            await projections.record_policy(uow, policy, now)
        await uow.commit()
    return dataset_id, policy_id, baseline_id, storage_uri


async def request_simulation(
    worker: Worker,
    dataset_id: str,
    policy_id: str,
    baseline_id: str | None,
    *,
    attempts: int = 0,
    **body: Any,
) -> tuple[str, CloudEvent]:
    """What the API does: the simulation row and its `simulation.requested` in the outbox."""
    request = SimulationRequest.model_validate(
        {
            "dataset_id": dataset_id,
            "policy_id": policy_id,
            "baseline_policy_id": baseline_id,
            "year": 2026,
            **body,
        }
    )
    simulation_id = str(uuid.uuid4())
    event = CloudEvent.wrap(
        requested_event(simulation_id, request),
        source="/fiscus/simulation",
        subject=simulation_id,
    )
    async with worker.database.unit_of_work() as uow:
        await store.insert_simulation(uow, simulation_id, request)
        if attempts:
            await uow.execute(
                simulations.update()
                .where(simulations.c.id == simulation_id)
                .values(attempts=attempts)
            )
        await uow.publish(event)
        await uow.commit()
    return simulation_id, event


async def next_event_about(tap: EventTap, simulation_id: str) -> dict[str, Any]:
    while True:
        document = await tap.next(timeout=30)
        if document["subject"] == simulation_id:
            return document


async def simulation_row(worker: Worker, simulation_id: str) -> sa.RowMapping:
    async with worker.database.unit_of_work() as uow:
        row = await store.find_simulation(uow, simulation_id)
    assert row is not None
    return row


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
