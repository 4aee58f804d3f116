"""report years, result files and custom aggregates

Revision ID: 5b2d7c91e0a4
Revises: 1049766cbc57
Create Date: 2026-11-26 16:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5b2d7c91e0a4"
down_revision: str | None = "1049766cbc57"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for column in ("reports_by_year", "budget_window", "results"):
        op.add_column(
            "reports",
            sa.Column(column, postgresql.JSONB(astext_type=sa.Text()), nullable=True),
            schema="aggregation",
        )
    op.create_table(
        "aggregates",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("simulation_id", sa.String(length=64), nullable=False),
        sa.Column("request", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aggregates")),
        schema="aggregation",
    )
    op.create_index(
        op.f("ix_aggregation_aggregates_simulation_id"),
        "aggregates",
        ["simulation_id"],
        unique=False,
        schema="aggregation",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_aggregation_aggregates_simulation_id"),
        table_name="aggregates",
        schema="aggregation",
    )
    op.drop_table("aggregates", schema="aggregation")
    for column in ("results", "budget_window", "reports_by_year"):
        op.drop_column("reports", column, schema="aggregation")
