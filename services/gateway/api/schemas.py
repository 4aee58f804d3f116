"""The request and response bodies of the routes the gateway answers itself.

API keys, the audit log, and the PolicyEngine API v1 bodies its compatibility routes read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.gateway.domain.auth import Role
from services.gateway.domain.rate_limits import parse_rate_limit
from shared.pagination import Page

# The largest quota the key table's column holds (a 32-bit integer).
MAX_DAILY_SIMULATION_QUOTA = 2**31 - 1


class KeyCreate(BaseModel):
    """A key to issue."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["analytics notebook"])
    role: Role = "user"
    daily_simulation_quota: int | None = Field(
        default=None,
        ge=0,
        le=MAX_DAILY_SIMULATION_QUOTA,
        description="Simulations per 24 hours; none: the gateway's default",
    )
    rate_limit: str | None = Field(
        default=None,
        max_length=64,
        description="Requests per window, e.g. `120/minute`; none: the gateway's default",
        examples=["120/minute"],
    )

    @field_validator("rate_limit")
    @classmethod
    def _is_a_rate_limit(cls, value: str | None) -> str | None:
        if value is not None:
            parse_rate_limit(value)
        return value


class KeyResource(BaseModel):
    """An API key, without its secret."""

    id: str
    name: str
    role: Role
    prefix: str = Field(description="The `<prefix>` of the secret `fk_<prefix>_<random>`")
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    daily_simulation_quota: int | None = None
    rate_limit: str | None = None


class CreatedKey(KeyResource):
    """A new key with its secret, which is shown this once and never again."""

    secret: str


class KeyPage(Page[KeyResource]):
    """One page of keys, newest first; pass `next_cursor` back for the next page."""


def key_of(row: sa.RowMapping) -> KeyResource:
    return KeyResource(
        id=str(row["id"]),
        name=row["name"],
        role=row["role"],
        prefix=row["prefix"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        revoked_at=row["revoked_at"],
        daily_simulation_quota=row["daily_simulation_quota"],
        rate_limit=row["rate_limit"],
    )


class AuditEntry(BaseModel):
    """One change sent through the gateway, and how it was answered."""

    id: str
    created_at: datetime
    principal: str
    role: str
    method: str
    path: str
    resource_type: str | None
    resource_id: str | None
    status: int
    request_id: str | None


class AuditPage(Page[AuditEntry]):
    """One page of the audit log, newest first; pass `next_cursor` back for the next page."""


def entry_of(row: sa.RowMapping) -> AuditEntry:
    return AuditEntry(**{name: row[name] for name in AuditEntry.model_fields})


class V1Calculate(BaseModel):
    """v1's household calculation: a household, and a reform or none."""

    model_config = ConfigDict(extra="ignore")

    household: dict[str, Any]
    policy: dict[str, Any] | None = None


class V1PolicyCreate(BaseModel):
    """v1's policy: a reform in PolicyEngine's format, and a label."""

    model_config = ConfigDict(extra="ignore")

    data: dict[str, Any]
    label: str | None = Field(default=None, max_length=200)
