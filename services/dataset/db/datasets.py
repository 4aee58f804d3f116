"""Reads and writes of the `datasets` table."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from services.dataset.db.tables import datasets
from services.dataset.domain.datasets import Source
from services.dataset.domain.intake import PopulationFiles
from shared.db import UnitOfWork
from shared.pagination import Position, newest_first


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
        )
        .returning(*datasets.c)
    )
    return result.mappings().one()


async def find_dataset(uow: UnitOfWork, dataset_id: str) -> RowMapping | None:
    statement = sa.select(datasets).where(datasets.c.id == dataset_id)
    return (await uow.execute(statement)).mappings().first()


async def list_datasets(
    uow: UnitOfWork, *, limit: int, after: Position | None = None
) -> Sequence[RowMapping]:
    """Newest first, from just after the `(created_at, id)` position `after`."""
    statement = newest_first(sa.select(datasets), datasets, after)
    return (await uow.execute(statement.limit(limit))).mappings().all()
