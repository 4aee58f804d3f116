"""The webhooks API's request and response bodies, and how rows read as them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, Field

from shared.pagination import Page

Url = Annotated[str, Field(min_length=1, max_length=2048, examples=["https://example.com/hooks"])]
EventTypes = Annotated[
    list[Annotated[str, Field(max_length=128)]],
    Field(min_length=1, max_length=32, examples=[["simulation.completed", "report.completed"]]),
]
Description = Annotated[str, Field(max_length=500)]


class NewEndpoint(BaseModel):
    """An endpoint to register: where to send which events."""

    url: Url
    event_types: EventTypes
    description: Description = ""


class EndpointChange(BaseModel):
    """The fields of an endpoint to change; `enabled: true` re-enables a disabled one."""

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None


class Endpoint(BaseModel):
    """A registered endpoint (its secret is shown only when created or rotated)."""

    id: str
    url: str
    event_types: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(Endpoint):
    """A just-created endpoint with its signing secret; the secret is not shown again."""

    secret: str


class EndpointSecret(BaseModel):
    """A new signing secret of an endpoint; the old one no longer signs."""

    id: str
    secret: str


class Attempt(BaseModel):
    """One HTTP attempt of a delivery."""

    attempted_at: datetime
    succeeded: bool
    status_code: int | None
    latency_ms: int
    response_excerpt: str | None
    error: str | None


class Delivery(BaseModel):
    """One event sent (or to be sent) to an endpoint, with every attempt so far."""

    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: str
    attempt_count: int
    next_attempt_at: datetime | None
    redelivery_of: str | None
    created_at: datetime
    attempts: list[Attempt] = []


class EndpointPage(Page[Endpoint]):
    """A page of endpoints, newest first."""


class DeliveryPage(Page[Delivery]):
    """A page of deliveries, newest first."""


def endpoint_of(row: sa.RowMapping) -> Endpoint:
    return Endpoint(
        id=row["id"],
        url=row["url"],
        event_types=list(row["event_types"]),
        description=row["description"],
        enabled=row["enabled"],
        disabled_reason=row["disabled_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def delivery_of(row: sa.RowMapping, attempt_rows: Sequence[Any] = ()) -> Delivery:
    return Delivery(
        id=row["id"],
        endpoint_id=row["endpoint_id"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        status=row["status"],
        attempt_count=row["attempts"],
        next_attempt_at=row["next_attempt_at"] if row["status"] == "pending" else None,
        redelivery_of=row["redelivery_of"],
        created_at=row["created_at"],
        attempts=[
            Attempt(
                attempted_at=a.attempted_at,
                succeeded=a.succeeded,
                status_code=a.status_code,
                latency_ms=a.latency_ms,
                response_excerpt=a.response_excerpt,
                error=a.error,
            )
            for a in attempt_rows
        ],
    )
