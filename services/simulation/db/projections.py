"""Reads and writes of the `datasets` and `policies` projections."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from contracts.events.dataset.v1 import DatasetRegistered
from contracts.events.policy.v1 import PolicyCreated
from services.simulation.db.tables import datasets, policies
from shared.db import UnitOfWork


@dataclass(frozen=True)
class DatasetView:
    """What a simulation needs to know of a dataset."""

    dataset_id: str
    storage_uri: str
    sha256: str
    year: int


@dataclass(frozen=True)
class PolicyView:
    """What a simulation needs to know of a policy: its reform, in PolicyEngine's format."""

    policy_id: str
    sha256: str
    data: dict[str, dict[str, Any]]


async def record_dataset(uow: UnitOfWork, dataset: DatasetRegistered, at: datetime) -> None:
    """Insert or refresh a dataset; an event older than the row's is ignored."""
    values = {
        "dataset_id": dataset.dataset_id,
        "name": dataset.name,
        "storage_uri": dataset.storage_uri,
        "sha256": dataset.sha256,
        "year": dataset.year,
        "households": dataset.households,
        "people": dataset.people,
        "owner": dataset.owner,
        "registered_at": at,
    }
    await _upsert_unless_older(uow, datasets, "dataset_id", "registered_at", values)


async def record_policy(uow: UnitOfWork, policy: PolicyCreated, at: datetime) -> None:
    """Insert or refresh a policy; an event older than the row's is ignored."""
    values = {
        "policy_id": policy.policy_id,
        "name": policy.name,
        "sha256": policy.sha256,
        "data": policy.data,
        "owner": policy.owner,
        "public": policy.visibility == "public",
        "created_at": at,
    }
    # A later visibility change, once recorded, outranks the visibility it was created with.
    kept = {
        "public": sa.case(
            (policies.c.visibility_changed_at.is_(None), pg.insert(policies).excluded.public),
            else_=policies.c.public,
        )
    }
    await _upsert_unless_older(uow, policies, "policy_id", "created_at", values, kept)


async def set_policy_visibility(
    uow: UnitOfWork, policy_id: str, public: bool, changed_at: datetime
) -> bool:
    """Record a visibility change unless a later one is recorded; False if the policy is
    not projected yet."""
    if policy_id not in await known_policies(uow, [policy_id]):
        return False
    await uow.execute(
        policies.update()
        .where(
            policies.c.policy_id == policy_id,
            sa.or_(
                policies.c.visibility_changed_at.is_(None),
                policies.c.visibility_changed_at < changed_at,
            ),
        )
        .values(public=public, visibility_changed_at=changed_at, recorded_at=sa.func.now())
    )
    return True


async def _upsert_unless_older(
    uow: UnitOfWork,
    table: sa.Table,
    key: str,
    stamp: str,
    values: dict[str, Any],
    kept: dict[str, Any] | None = None,
) -> None:
    """Insert the row, or refresh it unless its `stamp` is newer than the one in `values`.

    Events may arrive out of order; the newest one seen wins. `kept` gives the update's
    own expression for columns another event may have set since.
    """
    insert = pg.insert(table).values(values)
    await uow.execute(
        insert.on_conflict_do_update(
            index_elements=[table.c[key]],
            set_={
                **{k: insert.excluded[k] for k in values if k != key},
                **(kept or {}),
                "recorded_at": sa.func.now(),
            },
            where=table.c[stamp] <= insert.excluded[stamp],
        )
    )


async def known_datasets(uow: UnitOfWork, dataset_ids: Iterable[str]) -> set[str]:
    rows = await uow.execute(
        sa.select(datasets.c.dataset_id).where(datasets.c.dataset_id.in_(list(dataset_ids)))
    )
    return set(rows.scalars())


async def known_policies(uow: UnitOfWork, policy_ids: Iterable[str]) -> set[str]:
    rows = await uow.execute(
        sa.select(policies.c.policy_id).where(policies.c.policy_id.in_(list(policy_ids)))
    )
    return set(rows.scalars())


async def find_dataset(uow: UnitOfWork, dataset_id: str) -> DatasetView | None:
    row = (
        await uow.execute(
            sa.select(
                datasets.c.dataset_id, datasets.c.storage_uri, datasets.c.sha256, datasets.c.year
            ).where(datasets.c.dataset_id == dataset_id)
        )
    ).first()
    if row is None:
        return None
    return DatasetView(
        dataset_id=row.dataset_id, storage_uri=row.storage_uri, sha256=row.sha256, year=row.year
    )


async def find_policy(uow: UnitOfWork, policy_id: str) -> PolicyView | None:
    row = (
        await uow.execute(
            sa.select(policies.c.policy_id, policies.c.sha256, policies.c.data).where(
                policies.c.policy_id == policy_id
            )
        )
    ).first()
    if row is None:
        return None
    return PolicyView(policy_id=row.policy_id, sha256=row.sha256, data=row.data)


async def dataset_content_in_use(uow: UnitOfWork, sha256: str) -> bool:
    """Whether a dataset not deleted has this content (its kept baselines are still its)."""
    rows = await uow.execute(
        sa.select(datasets.c.dataset_id)
        .where(datasets.c.sha256 == sha256, datasets.c.deleted_at.is_(None))
        .limit(1)
    )
    return rows.first() is not None


async def mark_dataset_deleted(uow: UnitOfWork, dataset_id: str, at: datetime) -> str | None:
    """Record a dataset's deletion; its content's SHA-256, or None when it is not
    projected (yet)."""
    return await _mark_deleted(uow, datasets, "dataset_id", dataset_id, at)


async def mark_policy_deleted(uow: UnitOfWork, policy_id: str, at: datetime) -> str | None:
    """Record a policy's deletion; its content's SHA-256, or None when it is not
    projected (yet)."""
    return await _mark_deleted(uow, policies, "policy_id", policy_id, at)


async def _mark_deleted(
    uow: UnitOfWork, table: sa.Table, key: str, row_id: str, at: datetime
) -> str | None:
    result = await uow.execute(
        table.update()
        .where(table.c[key] == row_id)
        .values(deleted_at=sa.func.coalesce(table.c.deleted_at, at))
        .returning(table.c.sha256)
    )
    sha256: str | None = result.scalar()
    return sha256
