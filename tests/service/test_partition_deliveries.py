"""Partition deliveries on the real Postgres and RabbitMQ: a crashed worker's partition
redelivered, a second copy dropped, an outage ridden out in place, and partitions
finishing at once completing the simulation once."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest

from contracts.envelope import CloudEvent
from contracts.events.simulation.v1 import (
    SimulationCompleted,
    SimulationPartitionRequested,
    SimulationProgress,
)
from services.simulation.adapters.result_files import rank_years, write_partition_files
from services.simulation.db import partitions as partition_store
from services.simulation.db import simulations as store
from services.simulation.domain.partitions import (
    PartitionCosts,
    plan_partitions,
    population_of_states,
)
from services.simulation.domain.simulations import SimulationRequest
from services.simulation.handlers import partition_results
from services.simulation.handlers.partition_claims import PartitionClaims
from services.simulation.handlers.partition_results import Calculation, PartitionResults
from services.simulation.handlers.partitions import PARTITIONS_QUEUE
from services.simulation.main import create_app
from shared import storage
from shared.population import read_population
from shared.settings import Settings
from shared.states import FIPS_BY_POSTAL_CODE
from tests.service.bus import publish, queue_depth
from tests.service.simulation_fixtures import (
    FakeEngine,
    Worker,
    outbox_payloads,
    outcome,
    purge_requests,
    register_inputs,
    request_simulation,
    running_worker,
    simulation_row,
)


async def planned_partition(settings: Settings) -> tuple[Worker, str, CloudEvent]:
    """A simulation planned as one partition, and its (unpublished) partition request."""
    api = create_app(settings)  # declares the workers' queues
    async with api.router.lifespan_context(api):
        pass
    await purge_requests(settings.amqp_url)
    async with running_worker(settings) as setup:
        dataset_id, policy_id, _, _ = await register_inputs(setup)
    request = SimulationRequest(dataset_id=dataset_id, policy_id=policy_id, year=2026)
    simulation_id = str(uuid.uuid4())
    costs = PartitionCosts(fixed_seconds=20.0, household_seconds=0.0, max_households=10)
    (plan,) = plan_partitions({"CA": 1, "TX": 1}, [2026], costs)
    async with setup.database.unit_of_work() as uow:
        await store.insert_simulation(uow, simulation_id, request)
        await partition_store.insert_plan(uow, simulation_id, [plan], started_at=datetime.now(UTC))
        await store.set_attempts(uow, simulation_id, 1)
        await uow.commit()
    partition = SimulationPartitionRequested(
        simulation_id=simulation_id,
        partition=0,
        partitions=1,
        year=2026,
        states=["CA", "TX"],
        households=2,
    )
    event = CloudEvent.wrap(partition, source="/fiscus/simulation", subject=simulation_id)
    return setup, simulation_id, event


async def take_and_start(setup: Worker, simulation_id: str) -> aio_pika.abc.AbstractConnection:
    """Like a worker: take the partition's request, unacknowledged, and start it."""
    connection = await aio_pika.connect(setup.settings.amqp_url)
    channel = await connection.channel()
    queue = await channel.declare_queue(PARTITIONS_QUEUE, passive=True)
    async with asyncio.timeout(10):
        while await queue.get(no_ack=False, fail=False) is None:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    async with setup.database.unit_of_work() as uow:
        await partition_store.mark_started(
            uow, simulation_id, 0, attempts=1, started_at=datetime.now(UTC)
        )
        await uow.commit()
    return connection


async def completed_partition(survivor: Worker, simulation_id: str) -> tuple[str, int]:
    """The partition's status and attempts once its simulation completed."""
    async with asyncio.timeout(30):
        while (await simulation_row(survivor, simulation_id))["status"] != "completed":  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    async with survivor.database.unit_of_work() as uow:
        row = await partition_store.find_partition(uow, simulation_id, 0)
    assert row is not None
    return row["status"], row["attempts"]


async def test_a_crashed_workers_partition_is_redelivered_and_completed(
    per_state: Settings,
) -> None:
    setup, simulation_id, event = await planned_partition(per_state)
    await publish(per_state.amqp_url, event)
    # A worker takes the partition, starts it, and dies before acknowledging it.
    connection = await take_and_start(setup, simulation_id)
    await connection.close()

    async with running_worker(per_state, purge=False) as survivor:
        # It may finish before the worker's tap is bound: read the outcome from its row.
        assert await completed_partition(survivor, simulation_id) == ("done", 2)
        assert len(survivor.engine.calls) == 1


async def test_a_second_copy_of_a_running_partitions_request_is_dropped(
    per_state: Settings,
) -> None:
    """An outbox relay stopped between publishing and marking sent: the request twice.

    The copy arriving while the partition runs elsewhere is dropped without an attempt;
    the original, held by the worker computing it, is redelivered when that worker dies.
    """
    setup, simulation_id, event = await planned_partition(per_state)
    await publish(per_state.amqp_url, event)
    connection = await take_and_start(setup, simulation_id)  # computing it, holding it

    async with running_worker(per_state, purge=False) as other:
        await publish(per_state.amqp_url, event)  # the same event, published again
        async with asyncio.timeout(30):
            while await asyncio.to_thread(queue_depth, PARTITIONS_QUEUE) != 1:  # noqa: ASYNC110
                await asyncio.sleep(0.1)  # until only the held original is left
        async with other.database.unit_of_work() as uow:
            row = await partition_store.find_partition(uow, simulation_id, 0)
        assert row is not None and (row["status"], row["attempts"]) == ("running", 1)
        assert other.engine.calls == []

        await connection.close()  # the worker computing it dies
        assert await completed_partition(other, simulation_id) == ("done", 2)
        assert len(other.engine.calls) == 1


async def test_a_partition_interrupted_by_an_outage_is_retried_in_place_and_completed(
    worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its row says running, its message is not redelivered: still not a second copy."""
    run = worker.engine.run
    calls = []

    def unreachable_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 1:
            raise ConnectionError("storage unreachable")
        return run(*args, **kwargs)

    monkeypatch.setattr(worker.engine, "run", unreachable_once)
    dataset_id, policy_id, _, _ = await register_inputs(worker)

    simulation_id, _ = await request_simulation(worker, dataset_id, policy_id, None, region="CA")
    _, document = await outcome(worker, simulation_id)

    assert document["type"] == "simulation.completed"
    assert len(calls) == 2
    async with worker.database.unit_of_work() as uow:
        row = await partition_store.find_partition(uow, simulation_id, 0)
    assert row is not None and (row["status"], row["attempts"]) == ("done", 2)


async def claimed_partitions(settings: Settings) -> tuple[Worker, str, list[CloudEvent]]:
    """A simulation of 2026 planned as two partitions (CA, TX), both claimed, and their
    (unpublished) requests."""
    api = create_app(settings)  # declares the workers' queues
    async with api.router.lifespan_context(api):
        pass
    await purge_requests(settings.amqp_url)
    async with running_worker(settings) as setup:
        dataset_id, policy_id, _, _ = await register_inputs(setup)
    request = SimulationRequest(dataset_id=dataset_id, policy_id=policy_id, year=2026)
    simulation_id = str(uuid.uuid4())
    plan = plan_partitions({"CA": 1, "TX": 1}, [2026], PartitionCosts(20.0, 0.0, max_households=1))
    async with setup.database.unit_of_work() as uow:
        await store.insert_simulation(uow, simulation_id, request)
        await partition_store.insert_plan(uow, simulation_id, plan, started_at=datetime.now(UTC))
        await uow.commit()
    events = [
        CloudEvent.wrap(
            SimulationPartitionRequested(
                simulation_id=simulation_id,
                partition=p.index,
                partitions=len(plan),
                year=p.year,
                states=list(p.states),
                households=p.households,
            ),
            source="/fiscus/simulation",
            subject=simulation_id,
        )
        for p in plan
    ]
    return setup, simulation_id, events


async def test_partitions_finishing_at_once_complete_the_simulation_once_with_ranked_deciles(
    per_state: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both write their files before either is counted: the one counted last ranks the
    year's deciles over both files (no row locked meanwhile) and completes the simulation."""
    setup, simulation_id, events = await claimed_partitions(per_state)
    claims = PartitionClaims(setup.database, "/fiscus/simulation", 3, set())
    claimed = [
        await claims.start(event, event.payload(SimulationPartitionRequested)) for event in events
    ]
    jobs = [job for job in claimed if job is not None]
    assert len(jobs) == 2
    both_writing = threading.Barrier(2, timeout=10)

    def write_together(*args: Any) -> Any:
        both_writing.wait()  # each read the other partition as not done
        return write_partition_files(*args)

    monkeypatch.setattr(partition_results, "write_partition_files", write_together)
    rankings: list[str] = []

    def rank_once(dataset_uri: str, partitions: Any) -> Any:
        rankings.append(dataset_uri)
        return rank_years(dataset_uri, partitions)

    monkeypatch.setattr(partition_results, "rank_years", rank_once)
    finishing = PartitionResults(
        setup.database, per_state.resolved_storage_url, "/fiscus/simulation"
    )
    engine = FakeEngine()
    population = read_population(jobs[0].storage_uri)
    calculations = []
    for job in jobs:
        states = {FIPS_BY_POSTAL_CODE[state] for state in job.states}
        results = engine.run(population_of_states(population, states), 2026, {})
        calculations.append(Calculation(results, engine.model_version, 0.1, 0.2))

    await asyncio.gather(
        *(
            finishing.finish(event, job, calculation)
            for event, job, calculation in zip(events, jobs, calculations, strict=True)
        )
    )

    assert rankings == [jobs[0].storage_uri]
    row = await simulation_row(setup, simulation_id)
    assert (row["status"], row["partitions_done"], row["households_done"]) == ("completed", 2, 2)
    assert len(await outbox_payloads(setup, simulation_id, SimulationProgress.event_type)) == 2
    (completed,) = await outbox_payloads(setup, simulation_id, SimulationCompleted.event_type)
    for file in completed["results"]:  # the ranked files, as stored
        assert storage.sha256_of(file["uri"]) == file["sha256"]
    async with setup.database.unit_of_work() as uow:
        rows = await partition_store.partitions_of(uow, simulation_id)
    assert [(r["status"], r["attempts"]) for r in rows] == [("done", 1), ("done", 1)]
    assert sorted(f["sha256"] for r in rows for f in r["results"]) == sorted(
        f["sha256"] for f in completed["results"]
    )
