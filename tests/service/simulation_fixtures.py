"""The simulation worker on the real Postgres and RabbitMQ, with a fake population engine:
the `worker` fixture (tests/service/conftest.py) and what its tests do with it.

The fake engine honours the interface and the results format; the real engine
(policyengine-us) is exercised by the engine's own and the end-to-end tests.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
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
    SimulationProgress,
)
from contracts.results.v1 import household_columns, person_columns
from services.simulation.db import projections
from services.simulation.db import simulations as store
from services.simulation.db.tables import metadata, simulations
from services.simulation.domain.reform_arm import FULL, REQUESTED, ReformArm
from services.simulation.domain.simulations import SimulationRequest, requested_event
from services.simulation.handlers.partitions import PARTITIONS_QUEUE
from services.simulation.handlers.projections import ProjectionHandlers
from services.simulation.handlers.requests import REQUESTS_QUEUE
from services.simulation.main import create_worker_app
from shared import storage
from shared.db import Database, create_engine
from shared.population import ENTITIES, Population, to_parquet_bytes, write_population
from shared.settings import Settings
from tests.factories import content_hash
from tests.service.bus import EventTap, event_tap

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
def per_state(migrated: Settings) -> Settings:
    """Settings that put each household in a partition of its own."""
    return migrated.model_copy(update={"partition_households": 1})


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


async def outcome(worker: Worker, simulation_id: str) -> tuple[list[dict[str, Any]], Any]:
    """The simulation's progress events, in order of partitions done, and its outcome.

    The last progress event and `simulation.completed` are committed together, and
    the relay may publish them in either order.
    """
    progress = []
    while True:
        document = await next_event_about(worker.tap, simulation_id)
        if document["type"] != SimulationProgress.event_type:
            break
        progress.append(document["data"])
    for late in await worker.tap.drain(wait=0.3):
        if late["subject"] == simulation_id and late["type"] == SimulationProgress.event_type:
            progress.append(late["data"])
    return sorted(progress, key=lambda p: p["partitions_done"]), document


async def outbox_payloads(worker: Worker, simulation_id: str, event_type: str) -> list[Any]:
    """The payloads of the simulation's events of `event_type` in the worker's outbox."""
    outbox = worker.database.outbox
    async with worker.database.engine.connect() as connection:
        rows = await connection.execute(
            sa.select(outbox.c.envelope).where(
                outbox.c.envelope["subject"].astext == simulation_id,
                outbox.c.event_type == event_type,
            )
        )
        return [envelope["data"] for envelope in rows.scalars()]


async def project(database: Database, *events: CloudEvent) -> None:
    """Dataset and policy events into the simulation service's projections, as its
    consumers record them."""
    handlers = ProjectionHandlers(database)
    for event in events:
        if event.type == DatasetRegistered.event_type:
            await handlers.on_dataset_registered(event)
        else:
            await handlers.on_policy_created(event)
