"""Set-based reads and writes of admitting many simulation requests in one transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from services.simulation.db.tables import datasets, policies, simulations
from services.simulation.domain.admissions import ProjectedInput
from services.simulation.domain.simulations import REUSABLE
from shared.db import UnitOfWork

_LOCK_KEYS = sa.text(
    "SELECT pg_advisory_xact_lock(hashtextextended(k, 0))"
    " FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS t(k, n) ORDER BY n"
)


async def projected(
    uow: UnitOfWork, table: sa.Table, id_column: str, ids: Iterable[str]
) -> dict[str, ProjectedInput]:
    """The projected rows of `ids` in `datasets` or `policies`, deleted ones included."""
    column = table.c[id_column]
    public = table.c.public if "public" in table.c else sa.false()
    rows = await uow.execute(
        sa.select(
            column.label("id"),
            table.c.sha256,
            table.c.owner,
            table.c.deleted_at,
            public.label("public"),
        ).where(column.in_(sorted(set(ids))))
    )
    return {
        row["id"]: ProjectedInput(
            id=row["id"],
            sha256=row["sha256"],
            owner=row["owner"],
            deleted=row["deleted_at"] is not None,
            public=bool(row["public"]),
        )
        for row in rows.mappings()
    }


async def projected_datasets(uow: UnitOfWork, ids: Iterable[str]) -> dict[str, ProjectedInput]:
    return await projected(uow, datasets, "dataset_id", ids)


async def projected_policies(uow: UnitOfWork, ids: Iterable[str]) -> dict[str, ProjectedInput]:
    return await projected(uow, policies, "policy_id", ids)


async def lock_keys(uow: UnitOfWork, keys: Iterable[str]) -> None:
    """Serialise, until the end of the transaction, the requests for these keys (in sorted
    order, so two transactions locking overlapping keys never wait on each other in a
    cycle): two equal requests at the same moment must not both create a simulation."""
    ordered = sorted(set(keys))
    if ordered:
        await uow.execute(_LOCK_KEYS, {"keys": ordered})


async def reusable(uow: UnitOfWork, keys: Iterable[str]) -> dict[str, RowMapping]:
    """The simulations with these keys that answer new requests (queued, running or
    completed), by key."""
    rows = await uow.execute(
        sa.select(simulations).where(
            simulations.c.key.in_(sorted(set(keys))),
            simulations.c.status.in_([s.value for s in REUSABLE]),
        )
    )
    return {row["key"]: row for row in rows.mappings()}


async def insert(uow: UnitOfWork, values: Sequence[Mapping[str, Any]]) -> dict[str, RowMapping]:
    """New simulation rows, by id."""
    if not values:
        return {}
    # Parameters apart from the statement: compiled once, whatever the number of rows.
    rows = await uow.execute(simulations.insert().returning(*simulations.c), list(values))
    return {row["id"]: row for row in rows.mappings()}
