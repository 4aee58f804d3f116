"""endpoint soft delete

Revision ID: e4f7a2b9c381
Revises: f3c34424d8c3
Create Date: 2026-11-26 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e4f7a2b9c381"
down_revision: str | None = "f3c34424d8c3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "endpoints", sa.Column("deleted_at", sa.DateTime(timezone=True)), schema="webhooks"
    )


def downgrade() -> None:
    op.drop_column("endpoints", "deleted_at", schema="webhooks")
