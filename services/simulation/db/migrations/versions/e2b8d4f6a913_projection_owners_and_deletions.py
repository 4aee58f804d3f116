"""projection owners and deletions

Revision ID: e2b8d4f6a913
Revises: 7c1e5a9f3b20
Create Date: 2026-11-26 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e2b8d4f6a913"
down_revision: str | None = "7c1e5a9f3b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("datasets", "policies"):
        op.add_column(table, sa.Column("owner", sa.String(length=64)), schema="simulation")
        op.add_column(
            table, sa.Column("deleted_at", sa.DateTime(timezone=True)), schema="simulation"
        )


def downgrade() -> None:
    for table in ("datasets", "policies"):
        op.drop_column(table, "deleted_at", schema="simulation")
        op.drop_column(table, "owner", schema="simulation")
