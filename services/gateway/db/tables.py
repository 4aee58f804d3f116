"""The gateway's tables (schema `gateway`)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from shared.db import service_metadata

# The gateway records no events and consumes none through an inbox: no outbox, no inbox.
metadata = service_metadata("gateway", messaging=False)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=False), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    # The `<prefix>` of `fk_<prefix>_<random>`: finds the row; the secret itself is never kept.
    sa.Column("prefix", sa.String(32), nullable=False, unique=True),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    # None: the gateway's defaults.
    sa.Column("daily_simulation_quota", sa.Integer),
    sa.Column("rate_limit", sa.String(64)),
    sa.CheckConstraint("role IN ('admin', 'user', 'readonly')", name="role"),
    sa.Index("ix_api_keys_created_at_id", sa.text("created_at DESC"), sa.text("id DESC")),
)

idempotency_records = sa.Table(
    "idempotency_records",
    metadata,
    # Keys are scoped by API key: two clients may pick the same Idempotency-Key.
    sa.Column("key_id", sa.String(64), primary_key=True),
    sa.Column("idempotency_key", sa.String(255), primary_key=True),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("body_sha256", sa.String(64), nullable=False),
    # `processing` while the first request runs, then `completed` with its response.
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("response_status", sa.Integer),
    sa.Column("response_headers", pg.JSONB),
    sa.Column("response_body", sa.LargeBinary),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_idempotency_records_expires_at", "expires_at"),
)

# Who changed what and when: every POST, PUT, PATCH and DELETE an authenticated caller
# sent through the gateway, with the answer's status. Rows are only ever inserted.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=False), primary_key=True),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("principal", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    # The collection (`policies`) and the id of the resource changed, when known.
    sa.Column("resource_type", sa.String(64)),
    sa.Column("resource_id", sa.String(128)),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("request_id", sa.String(128)),
    sa.Index("ix_audit_log_created_at_id", sa.text("created_at DESC"), sa.text("id DESC")),
    sa.Index("ix_audit_log_principal", "principal"),
    sa.Index("ix_audit_log_resource", "resource_type", "resource_id"),
)
