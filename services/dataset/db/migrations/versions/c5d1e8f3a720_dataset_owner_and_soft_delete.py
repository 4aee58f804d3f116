"""dataset owner and soft delete

Revision ID: c5d1e8f3a720
Revises: 9cb9f0dd081b
Create Date: 2026-11-26 16:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c5d1e8f3a720"
down_revision: str | None = "9cb9f0dd081b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("datasets", sa.Column("owner", sa.String(length=64)), schema="dataset")
    op.add_column("datasets", sa.Column("deleted_at", sa.DateTime(timezone=True)), schema="dataset")


def downgrade() -> None:
    op.drop_column("datasets", "deleted_at", schema="dataset")
    op.drop_column("datasets", "owner", schema="dataset")
