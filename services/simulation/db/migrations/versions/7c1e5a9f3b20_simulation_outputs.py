"""simulation outputs

Revision ID: 7c1e5a9f3b20
Revises: d9a4b6c2e817
Create Date: 2026-11-26 16:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7c1e5a9f3b20"
down_revision: str | None = "d9a4b6c2e817"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "simulations",
        sa.Column("outputs", postgresql.ARRAY(sa.String(length=128)), nullable=True),
        schema="simulation",
    )


def downgrade() -> None:
    op.drop_column("simulations", "outputs", schema="simulation")
