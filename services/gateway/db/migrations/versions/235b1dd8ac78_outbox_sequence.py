"""outbox sequence

Revision ID: 235b1dd8ac78
Revises: f1a8c3d5b294
Create Date: 2026-12-07 09:00:00

Events written in one transaction share `created_at`; `sequence` orders them.
"""

from collections.abc import Sequence

from shared.outbox_migrations import add_outbox_sequence, drop_outbox_sequence

revision: str = "235b1dd8ac78"
down_revision: str | None = "f1a8c3d5b294"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_sequence("gateway")


def downgrade() -> None:
    drop_outbox_sequence("gateway")
