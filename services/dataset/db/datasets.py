"""Reads and writes of the `datasets` table."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from services.dataset.db.tables import datasets
from services.dataset.domain.datasets import Source
from services.dataset.domain.intake import PopulationFiles, UploadRecord
from shared.db import UnitOfWork
from shared.pagination import Position
from shared.principals import Caller
from shared.sorting import NEWEST_FIRST, in_order


async def insert_dataset(
    uow: UnitOfWork,
    *,
    dataset_id: str,
    name: str,
    source: Source,
    year: int,
    seed: int | None,
    storage_uri: str,
    population: PopulationFiles,
    owner: str | None = None,
    upload: UploadRecord | None = None,
) -> RowMapping:
    result = await uow.execute(
        datasets.insert()
        .values(
            id=dataset_id,
            name=name,
            source=source,
            year=year,
            seed=seed,
            households=population.summary.households,
            people=population.summary.people,
            states=list(population.summary.states),
            sha256=population.sha256,
            size_bytes=population.size_bytes,
            storage_uri=storage_uri,
            owner=owner,
            upload_format=upload.format if upload is not None else None,
            original_name=upload.original_name if upload is not None else None,
            original_size_bytes=upload.original_size_bytes if upload is not None else None,
            original_sha256=upload.original_sha256 if upload is not None else None,
        )
        .returning(*datasets.c)
    )
    return result.mappings().one()


def _visible_to(caller: Caller) -> sa.ColumnElement[bool]:
    """Live datasets the caller may read: the built-in synthetic populations and ownerless
    datasets are everyone's, an upload its uploader's (and every admin's)."""
    live = datasets.c.deleted_at.is_(None)
    if caller.is_admin:
        return live
    return sa.and_(
        live,
        sa.or_(
            datasets.c.source == "synthetic",
            datasets.c.owner.is_(None),
            datasets.c.owner == caller.key_id,
        ),
    )


async def find_dataset(
    uow: UnitOfWork, dataset_id: str, caller: Caller | None = None, *, for_update: bool = False
) -> RowMapping | None:
    """The dataset if it exists, is not deleted and (given a caller) is visible to them."""
    statement = sa.select(datasets).where(datasets.c.id == dataset_id)
    if caller is not None:
        statement = statement.where(_visible_to(caller))
    if for_update:
        statement = statement.with_for_update()
    return (await uow.execute(statement)).mappings().first()


async def list_datasets(
    uow: UnitOfWork,
    *,
    limit: int,
    after: Position | None = None,
    caller: Caller | None = None,
    sort: str = NEWEST_FIRST,
    source: str | None = None,
    year: int | None = None,
    sha256: str | None = None,
) -> Sequence[RowMapping]:
    """In `sort` order, from just after the `(created_at, id)` position `after`."""
    statement = sa.select(datasets)
    if caller is not None:
        statement = statement.where(_visible_to(caller))
    if source is not None:
        statement = statement.where(datasets.c.source == source)
    if year is not None:
        statement = statement.where(datasets.c.year == year)
    if sha256 is not None:
        statement = statement.where(datasets.c.sha256 == sha256)
    statement = in_order(statement, datasets, sort, after).limit(limit)
    return (await uow.execute(statement)).mappings().all()


async def mark_deleted(uow: UnitOfWork, dataset_id: str) -> RowMapping:
    result = await uow.execute(
        datasets.update()
        .where(datasets.c.id == dataset_id)
        .values(deleted_at=sa.func.now())
        .returning(*datasets.c)
    )
    return result.mappings().one()
