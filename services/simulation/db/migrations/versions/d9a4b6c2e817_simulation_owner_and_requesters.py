"""simulation owner and requesters

Revision ID: d9a4b6c2e817
Revises: 0214da7aa8f6
Create Date: 2026-11-26 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "d9a4b6c2e817"
down_revision: str | None = "0214da7aa8f6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("simulations", sa.Column("owner", sa.String(length=64)), schema="simulation")
    op.add_column(
        "simulations",
        sa.Column(
            "requesters",
            postgresql.ARRAY(sa.String(length=64)),
            server_default=sa.text("'{}'::varchar[]"),
            nullable=False,
        ),
        schema="simulation",
    )
    op.create_index(
        "ix_simulations_requesters",
        "simulations",
        ["requesters"],
        unique=False,
        schema="simulation",
        postgresql_using="gin",
    )


def downgrade() -> None:
    op.drop_index(
        "ix_simulations_requesters",
        table_name="simulations",
        schema="simulation",
        postgresql_using="gin",
    )
    op.drop_column("simulations", "requesters", schema="simulation")
    op.drop_column("simulations", "owner", schema="simulation")
