"""The webhooks service's tables (schema `webhooks`)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from shared.db import service_metadata

metadata = service_metadata("webhooks")


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


# An HTTP endpoint that receives the events it subscribed to, owned by an API key.
endpoints = sa.Table(
    "endpoints",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(128), nullable=False, index=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("event_types", pg.ARRAY(sa.String(128)), nullable=False),
    # Needed in clear to sign; shown to the owner only when created or rotated.
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("disabled_reason", sa.Text),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    # Soft delete: a deleted endpoint is disabled, gone from the API, and its log kept.
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
    _timestamp("created_at"),
    _timestamp("updated_at"),
)

# One event to send to one endpoint; `pending` until it succeeded or failed for good.
deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    # No foreign keys in service schemas (Alembic cannot compare them under the role's
    # search_path); deleting an endpoint deletes its deliveries and attempts explicitly.
    sa.Column("endpoint_id", sa.String(64), nullable=False, index=True),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("event_type", sa.String(128), nullable=False),
    # The CloudEvent JSON exactly as it is sent (and signed).
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.Column("redelivery_of", sa.String(64)),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
    sa.Index(
        "ix_deliveries_due", "next_attempt_at", postgresql_where=sa.text("status = 'pending'")
    ),
)

# Every HTTP attempt of a delivery, successful or not.
attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("delivery_id", sa.String(64), nullable=False, index=True),
    sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("succeeded", sa.Boolean, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    sa.Column("response_excerpt", sa.Text),
    sa.Column("error", sa.Text),
)
