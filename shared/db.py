"""Engine, per-service metadata and the unit of work.

Each service owns one Postgres schema. Its tables, including its own `outbox` and
`inbox`, live in a `MetaData` bound to that schema.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext import asyncio as sa_asyncio
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from contracts.envelope import CloudEvent
from shared.tracing import TRACE_HEADERS, propagation_headers

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str, *, messaging: bool = True) -> sa.MetaData:
    """A MetaData for one service's schema, with the outbox and inbox tables in it
    (`messaging=False`: a service that neither records nor consumes events has neither)."""
    metadata = sa.MetaData(schema=schema, naming_convention=NAMING_CONVENTION)
    if not messaging:
        return metadata
    sa.Table(
        "outbox",
        metadata,
        sa.Column("id", sa.String(64), primary_key=True),
        # The order events were written in, also within one transaction (where
        # `created_at`, the transaction's start, is the same): the relay publishes by it.
        sa.Column("sequence", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("envelope", pg.JSONB, nullable=False),
        sa.Column("headers", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Index("ix_outbox_unsent", "sequence", postgresql_where=sa.text("sent_at IS NULL")),
    )
    sa.Table(
        "inbox",
        metadata,
        sa.Column("consumer", sa.String(128), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    return metadata


def create_engine(url: str, *, pool_size: int = 5, connect_timeout: float = 5.0) -> AsyncEngine:
    """An engine that checks a pooled connection before use and never waits unbounded
    for a new one (`connect_timeout` to connect, as long again for a pool slot)."""
    # Looked up now: SQLAlchemy's OpenTelemetry instrumentation wraps it (shared/tracing.py).
    return sa_asyncio.create_async_engine(
        url,
        pool_size=pool_size,
        pool_pre_ping=True,
        pool_timeout=connect_timeout * 2,
        connect_args={"timeout": connect_timeout},
    )


@dataclass(frozen=True)
class Database:
    """A service's engine and the tables shared machinery needs."""

    engine: AsyncEngine
    metadata: sa.MetaData
    # Called after a commit that wrote outbox rows, to wake this process's relay.
    on_events_committed: list[Callable[[], None]] = field(default_factory=list)

    @property
    def outbox(self) -> sa.Table:
        return self.metadata.tables[f"{self.metadata.schema}.outbox"]

    @property
    def inbox(self) -> sa.Table:
        return self.metadata.tables[f"{self.metadata.schema}.inbox"]

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self)


class UnitOfWork:
    """One transaction: commits only when asked to, rolls back otherwise.

    Events recorded with `publish` go to the outbox in the same transaction as the
    state change; `first_delivery` records a consumed event in the inbox, also in it.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._connection: AsyncConnection | None = None
        self._transaction: AsyncTransaction | None = None
        self._published = False

    async def __aenter__(self) -> Self:
        self._connection = await self._database.engine.connect()
        self._transaction = await self._connection.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._connection is not None and self._transaction is not None
        try:
            if self._transaction.is_active:
                await self._transaction.rollback()
        finally:
            await self._connection.close()

    @property
    def connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._connection

    async def execute(self, statement: Any, parameters: Any = None) -> sa.CursorResult[Any]:
        result: sa.CursorResult[Any] = await self.connection.execute(statement, parameters)
        return result

    async def commit(self) -> None:
        assert self._transaction is not None
        await self._transaction.commit()
        if self._published:
            for listener in self._database.on_events_committed:
                listener()

    async def publish(self, event: CloudEvent, headers: dict[str, str] | None = None) -> None:
        """Record an event in the outbox; the relay publishes it after commit.

        The current trace context and request id go with it, in the row's headers and
        (trace context) in the envelope's `traceparent`, so that its consumers continue
        this trace.
        """
        await self.publish_all([(event, headers)])

    async def publish_all(self, events: Sequence[tuple[CloudEvent, dict[str, str] | None]]) -> None:
        """Record events in the outbox in one statement, each with its own headers (over
        the current trace context and request id), in the order given."""
        if not events:
            return
        current = propagation_headers()
        rows = []
        for event, headers in events:
            carried = {**current, **(headers or {})}
            envelope = event.model_dump(mode="json")
            for attribute in TRACE_HEADERS:
                if attribute in carried:
                    envelope.setdefault(attribute, carried[attribute])
            rows.append(
                {"id": event.id, "event_type": event.type, "envelope": envelope, "headers": carried}
            )
        # Parameters apart from the statement: compiled once, whatever the number of rows.
        await self.execute(self._database.outbox.insert(), rows)
        self._published = True

    async def first_delivery(self, consumer: str, event: CloudEvent) -> bool:
        """Record `event` as processed by `consumer`; False if it already was.

        A concurrent delivery of the same event waits on the primary key until this
        transaction ends, then sees the conflict: exactly one of them has effects.
        """
        statement = (
            pg.insert(self._database.inbox)
            .values(consumer=consumer, event_id=event.id, event_type=event.type)
            .on_conflict_do_nothing()
            .returning(self._database.inbox.c.event_id)
        )
        result = await self.execute(statement)
        return result.first() is not None
