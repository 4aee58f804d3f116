"""The policy service's tables (schema `policy`)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from shared.db import service_metadata

metadata = service_metadata("policy")

# Live public policies: the predicate of the index that keeps one per content. Written
# out, since ON CONFLICT infers a partial index only from a predicate without parameters.
PUBLIC_AND_LIVE = sa.text("visibility = 'public' AND deleted_at IS NULL")

policies = sa.Table(
    "policies",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=False), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text),
    # The reform in PolicyEngine's format, as the client sent it.
    sa.Column("data", pg.JSONB, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    # The key or token subject that stored it (shared.principals); null before owners
    # were kept, or when stored from inside the deployment: then only admins see it.
    sa.Column("owner", sa.String(64), index=True),
    sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    # Soft delete: a deleted policy is gone from the API, its row stays for the record.
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
    # `public`: anyone may find, read and simulate it; only its owner changes it.
    sa.Column("visibility", sa.String(16), nullable=False, server_default="private"),
    sa.CheckConstraint("visibility IN ('private', 'public')", name="visibility"),
    # Listing is newest first, with (created_at, id) as the cursor.
    sa.Index("ix_policies_created_at_id", sa.text("created_at DESC"), sa.text("id DESC")),
    # One live public policy per content, as PolicyEngine's policy store keeps one per hash.
    sa.Index(
        "uq_policies_public_sha256",
        "sha256",
        unique=True,
        postgresql_where=PUBLIC_AND_LIVE,
    ),
)
