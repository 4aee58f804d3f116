"""outbox sequence

Revision ID: 9e81c1aefe7a
Revises: 5b2d7c91e0a4
Create Date: 2026-12-07 09:00:00

Events written in one transaction share `created_at`; `sequence` orders them.
"""

from collections.abc import Sequence

from shared.outbox_migrations import add_outbox_sequence, drop_outbox_sequence

revision: str = "9e81c1aefe7a"
down_revision: str | None = "5b2d7c91e0a4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_sequence("aggregation")


def downgrade() -> None:
    drop_outbox_sequence("aggregation")
