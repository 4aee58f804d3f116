"""outbox sequence

Revision ID: eb3322398435
Revises: e4a7c2d9b613
Create Date: 2026-12-07 09:00:00

Events written in one transaction share `created_at`; `sequence` orders them.
"""

from collections.abc import Sequence

from shared.outbox_migrations import add_outbox_sequence, drop_outbox_sequence

revision: str = "eb3322398435"
down_revision: str | None = "e4a7c2d9b613"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_sequence("dataset")


def downgrade() -> None:
    drop_outbox_sequence("dataset")
