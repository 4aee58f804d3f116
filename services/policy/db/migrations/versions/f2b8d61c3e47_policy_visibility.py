"""policy visibility: public policies, one live public policy per content

Revision ID: f2b8d61c3e47
Revises: b7e2c4a91d05
Create Date: 2026-12-07 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f2b8d61c3e47"
down_revision: str | None = "b7e2c4a91d05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "policies",
        sa.Column("visibility", sa.String(16), nullable=False, server_default="private"),
        schema="policy",
    )
    op.create_check_constraint(
        "ck_policies_visibility",
        "policies",
        "visibility IN ('private', 'public')",
        schema="policy",
    )
    op.create_index(
        "uq_policies_public_sha256",
        "policies",
        ["sha256"],
        unique=True,
        schema="policy",
        postgresql_where=sa.text("visibility = 'public' AND deleted_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_policies_public_sha256", table_name="policies", schema="policy")
    op.drop_constraint("ck_policies_visibility", "policies", schema="policy", type_="check")
    op.drop_column("policies", "visibility", schema="policy")
