"""`/api/v1/keys`: API keys and their roles, answered by the gateway itself."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.gateway.api.guard import CurrentPrincipal, PublicRoute
from services.gateway.db import keys as store
from services.gateway.domain.auth import Principal, Role
from services.gateway.domain.keys import new_key_secret, secret_hash
from services.gateway.domain.rate_limits import parse_rate_limit
from shared.etags import PRECONDITION_RESPONSES, IfMatchHeader, require_match, tagged
from shared.pagination import DEFAULT_PAGE, Page, PageCursor, PageLimit, position_of
from shared.problems import ProblemError, not_found, openapi_problem
from shared.service import UnitOfWorkDep
from shared.sorting import NEWEST_FIRST, Sort

PATH = "/api/v1/keys"
SECURED: dict[str, Any] = {"security": [{"apiKey": []}]}

router = APIRouter(
    prefix=PATH,
    tags=["keys"],
    route_class=PublicRoute,
    responses={
        401: openapi_problem("Missing, wrong or revoked API key"),
        429: openapi_problem("Rate limit reached; see Retry-After"),
        503: openapi_problem("Rate limits cannot be checked right now"),
    },
)


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


def resource_from_row(row: sa.RowMapping) -> KeyResource:
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


def _key_id(text: str) -> str:
    return str(uuid.UUID(text))


def _visible_id(key_id: str, principal: Principal) -> str:
    """The canonical id of a key the caller may see; 404 for others' keys."""
    try:
        canonical = _key_id(key_id)
    except ValueError:
        raise not_found("API key", key_id) from None
    if principal.role != "admin" and canonical != principal.key_id:
        raise not_found("API key", key_id)
    return canonical


@router.post(
    "",
    status_code=201,
    summary="Issue an API key (admin); its secret is in this answer only",
    openapi_extra=SECURED,
    responses={
        403: openapi_problem("Not an admin key"),
        422: openapi_problem("Invalid body"),
    },
)
async def create_key(
    body: KeyCreate, principal: CurrentPrincipal, uow: UnitOfWorkDep, response: Response
) -> CreatedKey:
    if principal.role != "admin":
        raise ProblemError(403, "Forbidden", "only an admin key can issue keys", kind="forbidden")
    issued = new_key_secret()
    row = await store.insert_key(
        uow,
        id=str(uuid.uuid4()),
        name=body.name,
        role=body.role,
        prefix=issued.prefix,
        secret_sha256=secret_hash(issued.secret),
        created_by=principal.key_id,
        daily_simulation_quota=body.daily_simulation_quota,
        rate_limit=body.rate_limit,
    )
    await uow.commit()
    response.headers["Location"] = f"{PATH}/{row['id']}"
    return CreatedKey(**resource_from_row(row).model_dump(), secret=issued.secret)


@router.get(
    "",
    summary="List keys, newest first (an admin sees all, others their own)",
    openapi_extra=SECURED,
)
async def list_keys(
    principal: CurrentPrincipal,
    uow: UnitOfWorkDep,
    limit: PageLimit = DEFAULT_PAGE,
    cursor: PageCursor = None,
    sort: Sort = NEWEST_FIRST,
    role: Role | None = None,
    revoked: bool | None = None,
) -> KeyPage:
    only = None if principal.role == "admin" else principal.key_id
    rows = await store.list_keys(
        uow,
        limit=limit + 1,
        after=position_of(cursor, _key_id),
        only_id=only,
        sort=sort,
        role=role,
        revoked=revoked,
    )
    return KeyPage.of_rows(rows, limit, resource_from_row)


@router.get(
    "/{key_id}",
    summary="One key, without its secret",
    openapi_extra=SECURED,
    responses={404: openapi_problem("No such key, or not yours")},
)
async def get_key(
    key_id: str, principal: CurrentPrincipal, uow: UnitOfWorkDep, response: Response
) -> KeyResource:
    row = await store.find_key(uow, _visible_id(key_id, principal))
    if row is None:
        raise not_found("API key", key_id)
    resource = resource_from_row(row)
    tagged(resource, response)
    return resource


@router.delete(
    "/{key_id}",
    summary="Revoke a key (admin; If-Match required): it is refused from now on",
    openapi_extra=SECURED,
    responses={
        403: openapi_problem("Not an admin key"),
        404: openapi_problem("No such key"),
        **PRECONDITION_RESPONSES,
    },
)
async def revoke_key(
    key_id: str,
    principal: CurrentPrincipal,
    uow: UnitOfWorkDep,
    if_match: IfMatchHeader = None,
) -> KeyResource:
    if principal.role != "admin":
        raise ProblemError(403, "Forbidden", "only an admin key can revoke keys", kind="forbidden")
    canonical = _visible_id(key_id, principal)
    current = await store.find_key(uow, canonical)
    if current is None:
        raise not_found("API key", key_id)
    require_match(if_match, resource_from_row(current))
    row = await store.revoke_key(uow, canonical)
    if row is None:
        raise not_found("API key", key_id)
    await uow.commit()
    return resource_from_row(row)
