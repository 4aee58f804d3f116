"""seal endpoint secrets at rest

Revision ID: a9d3f5e1c702
Revises: e4f7a2b9c381
Create Date: 2026-12-07 06:20:00

Seals every secret stored as it is with FISCUS_WEBHOOKS_SECRET_KEY (the settings of the
process that migrates); downgrading opens them again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.webhooks.domain.sealing import is_sealed, seal, unseal
from shared.settings import get_settings

revision: str = "a9d3f5e1c702"
down_revision: str | None = "e4f7a2b9c381"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENDPOINTS = sa.table("endpoints", sa.column("id"), sa.column("secret"), schema="webhooks")


def _rewrite(change: bool) -> None:
    key = get_settings().webhooks_secret_key.get_secret_value()
    connection = op.get_bind()
    for row in connection.execute(sa.select(ENDPOINTS.c.id, ENDPOINTS.c.secret)).all():
        if is_sealed(row.secret) == change:
            continue
        secret = seal(row.secret, key) if change else unseal(row.secret, key)
        connection.execute(ENDPOINTS.update().where(ENDPOINTS.c.id == row.id).values(secret=secret))


def upgrade() -> None:
    _rewrite(change=True)


def downgrade() -> None:
    _rewrite(change=False)
