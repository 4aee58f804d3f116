"""The dataset service's tables (schema `dataset`)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from shared.db import service_metadata

metadata = service_metadata("dataset")

datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("households", sa.Integer, nullable=False),
    sa.Column("people", sa.Integer, nullable=False),
    sa.Column("states", pg.ARRAY(sa.String(2)), nullable=False),
    # SHA-256 over the six entity files (shared.population.content_sha256).
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("storage_uri", sa.Text, nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("seed", sa.BigInteger),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    # The key or token subject that registered it (shared.principals); null before owners
    # were kept. Synthetic populations and ownerless datasets are visible to everyone.
    sa.Column("owner", sa.String(64)),
    # Soft delete: a deleted dataset is gone from the API; its row and files stay.
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
    # What an upload was (services.dataset.domain.intake.UploadFormat), and the file as it
    # came, kept beside the Parquet files (null for uploads from before it was kept).
    sa.Column("upload_format", sa.String(32)),
    sa.Column("original_name", sa.String(255)),
    sa.Column("original_size_bytes", sa.BigInteger),
    sa.Column("original_sha256", sa.String(64)),
    sa.CheckConstraint("source IN ('synthetic', 'upload')", name="source"),
    sa.CheckConstraint("(source = 'synthetic') = (seed IS NOT NULL)", name="seed_of_synthetic"),
    sa.CheckConstraint(
        "(source = 'upload') = (upload_format IS NOT NULL)", name="upload_format_of_upload"
    ),
    # Serves the newest-first listing (scanned backwards) and its keyset cursor.
    sa.Index("ix_datasets_created_at_id", "created_at", "id"),
    sa.Index("ix_datasets_sha256", "sha256"),
)
