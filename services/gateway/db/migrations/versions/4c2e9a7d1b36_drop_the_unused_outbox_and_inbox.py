"""drop the unused outbox and inbox

Revision ID: 4c2e9a7d1b36
Revises: 235b1dd8ac78
Create Date: 2026-12-07 12:00:00

The gateway records no events (its process runs no relay) and consumes none with an
inbox (its simulation feed is a per-process, auto-deleted queue): both tables were empty.
"""

from collections.abc import Sequence

from alembic import op

from shared.db import service_metadata

revision: str = "4c2e9a7d1b36"
down_revision: str | None = "235b1dd8ac78"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("outbox", schema="gateway")
    op.drop_table("inbox", schema="gateway")


def downgrade() -> None:
    # The two tables as the earlier revisions left them (outbox with its sequence).
    messaging = service_metadata("gateway")
    for name in ("inbox", "outbox"):
        messaging.tables[f"gateway.{name}"].create(op.get_bind())
