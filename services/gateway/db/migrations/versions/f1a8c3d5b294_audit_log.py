"""audit log

Revision ID: f1a8c3d5b294
Revises: 67d81606d53f
Create Date: 2026-11-26 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "f1a8c3d5b294"
down_revision: str | None = "67d81606d53f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("principal", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("resource_type", sa.String(length=64)),
        sa.Column("resource_id", sa.String(length=128)),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=128)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        schema="gateway",
    )
    op.create_index(
        "ix_audit_log_created_at_id",
        "audit_log",
        [sa.text("created_at DESC"), sa.text("id DESC")],
        unique=False,
        schema="gateway",
    )
    op.create_index(
        "ix_audit_log_principal", "audit_log", ["principal"], unique=False, schema="gateway"
    )
    op.create_index(
        "ix_audit_log_resource",
        "audit_log",
        ["resource_type", "resource_id"],
        unique=False,
        schema="gateway",
    )


def downgrade() -> None:
    op.drop_index("ix_audit_log_resource", table_name="audit_log", schema="gateway")
    op.drop_index("ix_audit_log_principal", table_name="audit_log", schema="gateway")
    op.drop_index("ix_audit_log_created_at_id", table_name="audit_log", schema="gateway")
    op.drop_table("audit_log", schema="gateway")
