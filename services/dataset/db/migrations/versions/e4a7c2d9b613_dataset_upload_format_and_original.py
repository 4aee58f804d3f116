"""dataset upload format and original file

Revision ID: e4a7c2d9b613
Revises: c5d1e8f3a720
Create Date: 2026-12-07 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e4a7c2d9b613"
down_revision: str | None = "c5d1e8f3a720"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("datasets", sa.Column("upload_format", sa.String(32)), schema="dataset")
    op.add_column("datasets", sa.Column("original_name", sa.String(255)), schema="dataset")
    op.add_column("datasets", sa.Column("original_size_bytes", sa.BigInteger), schema="dataset")
    op.add_column("datasets", sa.Column("original_sha256", sa.String(64)), schema="dataset")
    # Every upload before this revision was a zip of Parquet files, kept without its zip.
    op.execute("UPDATE dataset.datasets SET upload_format = 'parquet-zip' WHERE source = 'upload'")
    op.create_check_constraint(
        "ck_datasets_upload_format_of_upload",
        "datasets",
        "(source = 'upload') = (upload_format IS NOT NULL)",
        schema="dataset",
    )


def downgrade() -> None:
    op.drop_constraint(
        "ck_datasets_upload_format_of_upload", "datasets", schema="dataset", type_="check"
    )
    op.drop_column("datasets", "original_sha256", schema="dataset")
    op.drop_column("datasets", "original_size_bytes", schema="dataset")
    op.drop_column("datasets", "original_name", schema="dataset")
    op.drop_column("datasets", "upload_format", schema="dataset")
