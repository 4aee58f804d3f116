"""The `idempotency_records` table: a claim per (API key, Idempotency-Key)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from services.gateway.db.tables import idempotency_records as records
from services.gateway.domain.idempotency import Fingerprint
from shared.db import UnitOfWork

PROCESSING = "processing"
COMPLETED = "completed"


def _this(key_id: str, idempotency_key: str) -> sa.ColumnElement[bool]:
    return sa.and_(records.c.key_id == key_id, records.c.idempotency_key == idempotency_key)


async def claim(
    uow: UnitOfWork,
    key_id: str,
    idempotency_key: str,
    request: Fingerprint,
    *,
    ttl: timedelta,
    lock: timedelta,
) -> sa.RowMapping | None:
    """Claim the key for `request`: None when claimed, else the record that holds it.

    A concurrent claim of the same key waits on the primary key until this transaction
    ends, then finds the committed record.
    """
    now = sa.func.now()
    # Expired records of this API key go on its next claim, so the table stays the size
    # of the keys' recent POSTs without a sweeper.
    await uow.execute(
        records.delete().where(records.c.key_id == key_id, records.c.expires_at < now)
    )
    await uow.execute(
        records.delete().where(
            _this(key_id, idempotency_key),
            records.c.status == PROCESSING,
            records.c.created_at < now - lock,
        )
    )
    inserted = await uow.execute(
        pg.insert(records)
        .values(
            key_id=key_id,
            idempotency_key=idempotency_key,
            method=request.method,
            path=request.path,
            body_sha256=request.body_sha256,
            status=PROCESSING,
            expires_at=now + ttl,
        )
        .on_conflict_do_nothing()
        .returning(records.c.key_id)
    )
    if inserted.first() is not None:
        return None
    existing = await uow.execute(sa.select(records).where(_this(key_id, idempotency_key)))
    return existing.mappings().one()


async def complete(
    uow: UnitOfWork,
    key_id: str,
    idempotency_key: str,
    *,
    status: int,
    headers: list[list[str]],
    body: bytes,
) -> None:
    values: dict[str, Any] = {
        "status": COMPLETED,
        "response_status": status,
        "response_headers": headers,
        "response_body": body,
    }
    await uow.execute(records.update().where(_this(key_id, idempotency_key)).values(**values))


async def release(uow: UnitOfWork, key_id: str, idempotency_key: str) -> None:
    """Forget a claim whose request failed on our side, so that a retry runs again."""
    await uow.execute(records.delete().where(_this(key_id, idempotency_key)))


def fingerprint_of(record: sa.RowMapping) -> Fingerprint:
    return Fingerprint(record["method"], record["path"], record["body_sha256"])
