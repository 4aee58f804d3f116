"""outbox sequence

Revision ID: 3b880d81568e
Revises: b5c9e3a7d204
Create Date: 2026-12-07 09:00:00

Events written in one transaction share `created_at`; `sequence` orders them.
"""

from collections.abc import Sequence

from shared.outbox_migrations import add_outbox_sequence, drop_outbox_sequence

revision: str = "3b880d81568e"
down_revision: str | None = "b5c9e3a7d204"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_sequence("simulation")


def downgrade() -> None:
    drop_outbox_sequence("simulation")
