"""simulation keys and cancel

Revision ID: 3e3c26f072ff
Revises: a41e4d2fe31a
Create Date: 2026-11-26 14:50:06.397093
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3e3c26f072ff"
down_revision: str | None = "a41e4d2fe31a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "simulation"
REUSABLE = sa.text("status IN ('queued', 'running', 'completed')")


def upgrade() -> None:
    op.add_column(
        "simulations",
        sa.Column("region", sa.String(length=8), server_default="us", nullable=False),
        schema=SCHEMA,
    )
    op.add_column("simulations", sa.Column("key", sa.String(length=64)), schema=SCHEMA)
    op.add_column(
        "simulations", sa.Column("cancelled_at", sa.DateTime(timezone=True)), schema=SCHEMA
    )
    op.drop_constraint("ck_simulations_status_known", "simulations", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_simulations_status_known"),
        "simulations",
        "status IN ('queued', 'running', 'completed', 'failed', 'cancelled')",
        schema=SCHEMA,
    )
    op.create_index(
        "ux_simulations_key_reusable",
        "simulations",
        ["key"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=REUSABLE,
    )


def downgrade() -> None:
    op.drop_index("ux_simulations_key_reusable", table_name="simulations", schema=SCHEMA)
    # A cancelled simulation has no place in the older model: it ends as failed.
    op.execute(
        f"UPDATE {SCHEMA}.simulations SET status = 'failed', error_type = 'Cancelled', "
        "error_reason = 'cancelled', completed_at = coalesce(completed_at, cancelled_at) "
        "WHERE status = 'cancelled'"
    )
    op.drop_constraint("ck_simulations_status_known", "simulations", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_simulations_status_known"),
        "simulations",
        "status IN ('queued', 'running', 'completed', 'failed')",
        schema=SCHEMA,
    )
    op.drop_column("simulations", "cancelled_at", schema=SCHEMA)
    op.drop_column("simulations", "key", schema=SCHEMA)
    op.drop_column("simulations", "region", schema=SCHEMA)
