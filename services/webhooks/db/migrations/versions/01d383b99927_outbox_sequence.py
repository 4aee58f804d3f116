"""outbox sequence

Revision ID: 01d383b99927
Revises: a9d3f5e1c702
Create Date: 2026-12-07 09:00:00

Events written in one transaction share `created_at`; `sequence` orders them.
"""

from collections.abc import Sequence

from shared.outbox_migrations import add_outbox_sequence, drop_outbox_sequence

revision: str = "01d383b99927"
down_revision: str | None = "a9d3f5e1c702"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_sequence("webhooks")


def downgrade() -> None:
    drop_outbox_sequence("webhooks")
