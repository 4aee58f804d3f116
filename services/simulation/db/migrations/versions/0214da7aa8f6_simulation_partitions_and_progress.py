"""simulation partitions, progress, budget windows

Revision ID: 0214da7aa8f6
Revises: 3e3c26f072ff
Create Date: 2026-11-26 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0214da7aa8f6"
down_revision: str | None = "3e3c26f072ff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "simulation"


def upgrade() -> None:
    op.add_column("simulations", sa.Column("years", pg.ARRAY(sa.Integer())), schema=SCHEMA)
    op.add_column("simulations", sa.Column("partitions_total", sa.Integer()), schema=SCHEMA)
    op.add_column(
        "simulations",
        sa.Column("partitions_done", sa.Integer(), server_default="0", nullable=False),
        schema=SCHEMA,
    )
    op.add_column("simulations", sa.Column("households_total", sa.Integer()), schema=SCHEMA)
    op.add_column(
        "simulations",
        sa.Column("households_done", sa.Integer(), server_default="0", nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "partitions",
        sa.Column("simulation_id", sa.String(length=64), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("states", pg.ARRAY(sa.String(length=2)), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("results", pg.JSONB(astext_type=sa.Text())),
        sa.Column("timings", pg.JSONB(astext_type=sa.Text())),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done')", name=op.f("ck_partitions_status_known")
        ),
        sa.PrimaryKeyConstraint("simulation_id", "partition", name=op.f("pk_partitions")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("partitions", schema=SCHEMA)
    op.drop_column("simulations", "households_done", schema=SCHEMA)
    op.drop_column("simulations", "households_total", schema=SCHEMA)
    op.drop_column("simulations", "partitions_done", schema=SCHEMA)
    op.drop_column("simulations", "partitions_total", schema=SCHEMA)
    op.drop_column("simulations", "years", schema=SCHEMA)
