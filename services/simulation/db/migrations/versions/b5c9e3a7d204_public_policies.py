"""public policies in the policy projection

Revision ID: b5c9e3a7d204
Revises: e2b8d4f6a913
Create Date: 2026-12-07 05:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b5c9e3a7d204"
down_revision: str | None = "e2b8d4f6a913"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "policies",
        sa.Column("public", sa.Boolean, nullable=False, server_default=sa.false()),
        schema="simulation",
    )
    op.add_column(
        "policies",
        sa.Column("visibility_changed_at", sa.DateTime(timezone=True)),
        schema="simulation",
    )


def downgrade() -> None:
    op.drop_column("policies", "visibility_changed_at", schema="simulation")
    op.drop_column("policies", "public", schema="simulation")
