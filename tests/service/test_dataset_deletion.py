"""A deleted dataset's kept baselines go with it, once no dataset has its content.

Also when a simulation accepted before the deletion stores them again while it runs:
its completion removes them (worker on the fake engine of simulation_fixtures.py).

Kept baselines (services/simulation/adapters/baselines.py) are values derived from a
dataset's people, stored under the SHA-256 of its content. Two datasets uploaded with
the same content share them: deleting one keeps them, deleting the last removes them.
Real gateway, dataset and simulation services; the deletion travels as
`dataset.deleted` on the real broker.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.simulation.adapters.baselines import baselines_root
from services.simulation.db.tables import datasets
from shared import storage
from tests.chaos.traffic import eventually
from tests.factories import content_hash
from tests.service.access_fixtures import Stack, synthetic_dataset
from tests.service.gateway_fixtures import bearer, issue_key
from tests.service.simulation_fixtures import (
    Worker,
    next_event_about,
    register_inputs,
    request_simulation,
)


async def delete(stack: Stack, headers: dict[str, str], dataset_id: str) -> None:
    path = f"/api/v1/datasets/{dataset_id}"
    deleted = await stack.gateway.delete(path, headers={**headers, "If-Match": "*"})
    assert deleted.status_code == 204, deleted.text


async def eventually_gone(path: Path) -> bool:
    async def gone() -> bool:
        return not await asyncio.to_thread(path.exists)

    return await eventually(gone, timeout=20, interval=0.2)


async def deletion_handled(connection: AsyncConnection, dataset_id: str) -> None:
    """Until the simulation service has marked its projection of the dataset deleted."""
    query = sa.text("SELECT deleted_at FROM simulation.datasets WHERE dataset_id = :id")

    async def marked() -> bool:
        await connection.rollback()  # a fresh snapshot each time
        return (await connection.execute(query, {"id": dataset_id})).scalar() is not None

    assert await eventually(marked, timeout=20, interval=0.2), (
        f"the deletion of {dataset_id} was not handled"
    )


async def test_the_last_copy_deleted_takes_its_kept_baselines(
    stack: Stack, admin_connection: AsyncConnection
) -> None:
    owner = bearer(await issue_key(stack.gateway))
    first = await synthetic_dataset(stack.gateway, owner, seed=71)
    second = await synthetic_dataset(stack.gateway, owner, seed=71)
    other = await synthetic_dataset(stack.gateway, owner, seed=72)
    assert first["sha256"] == second["sha256"] != other["sha256"]
    root = Path(storage.filesystem(baselines_root(stack.settings.resolved_storage_url))[1])
    kept = {}
    for dataset in (first, other):
        snapshot = root / dataset["sha256"] / "0123abcd.npz"
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_bytes(b"a kept baseline")
        kept[dataset["id"]] = snapshot

    await delete(stack, owner, first["id"])
    await deletion_handled(admin_connection, first["id"])
    # The second copy still has the content: its baselines stay.
    assert await asyncio.to_thread(kept[first["id"]].exists)
    await delete(stack, owner, other["id"])
    assert await eventually_gone(kept[other["id"]].parent)

    await delete(stack, owner, second["id"])
    assert await eventually_gone(kept[first["id"]].parent)
    assert await asyncio.to_thread(root.exists)


async def test_a_simulation_finishing_after_the_deletion_removes_what_it_kept(
    worker: Worker,
) -> None:
    gate = threading.Event()
    worker.engine.gate = gate
    dataset_id, policy_id, _, _ = await register_inputs(worker)
    simulation_id, _ = await request_simulation(worker, dataset_id, policy_id, None)

    async def started() -> bool:
        return bool(worker.engine.calls)

    assert await eventually(started, timeout=30, interval=0.2), "the partition never started"
    # While the partition runs: the dataset is deleted, and the run keeps its baseline.
    async with worker.database.unit_of_work() as uow:
        await uow.execute(
            datasets.update()
            .where(datasets.c.dataset_id == dataset_id)
            .values(deleted_at=sa.func.now())
        )
        await uow.commit()
    root = Path(storage.filesystem(baselines_root(worker.settings.resolved_storage_url))[1])
    snapshot = root / content_hash(dataset_id) / "0123abcd.npz"
    await asyncio.to_thread(snapshot.parent.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(snapshot.write_bytes, b"a kept baseline")
    gate.set()
    document = await next_event_about(worker.tap, simulation_id)
    assert document["type"] == "simulation.completed"
    assert await eventually_gone(snapshot.parent)
