"""outbox sequence

Revision ID: 8a5bf6c5ab38
Revises: f2b8d61c3e47
Create Date: 2026-12-07 09:00:00

Events written in one transaction share `created_at`; `sequence` orders them.
"""

from collections.abc import Sequence

from shared.outbox_migrations import add_outbox_sequence, drop_outbox_sequence

revision: str = "8a5bf6c5ab38"
down_revision: str | None = "f2b8d61c3e47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_sequence("policy")


def downgrade() -> None:
    drop_outbox_sequence("policy")
