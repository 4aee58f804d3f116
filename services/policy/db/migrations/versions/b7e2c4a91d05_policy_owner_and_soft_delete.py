"""policy owner, updated_at and soft delete

Revision ID: b7e2c4a91d05
Revises: 33750d2a54fd
Create Date: 2026-11-26 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e2c4a91d05"
down_revision: str | None = "33750d2a54fd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("policies", sa.Column("owner", sa.String(length=64)), schema="policy")
    op.add_column(
        "policies",
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        schema="policy",
    )
    op.add_column("policies", sa.Column("deleted_at", sa.DateTime(timezone=True)), schema="policy")
    op.create_index(
        op.f("ix_policy_policies_owner"), "policies", ["owner"], unique=False, schema="policy"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_policy_policies_owner"), table_name="policies", schema="policy")
    op.drop_column("policies", "deleted_at", schema="policy")
    op.drop_column("policies", "updated_at", schema="policy")
    op.drop_column("policies", "owner", schema="policy")
