"""`/api/v1/keys`: API keys and their roles, answered by the gateway itself."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response

from services.gateway.api.guard import CurrentPrincipal, PublicRoute
from services.gateway.api.schemas import CreatedKey, KeyCreate, KeyPage, KeyResource, key_of
from services.gateway.db import keys as store
from services.gateway.domain.auth import Principal, Role
from services.gateway.domain.keys import new_key_secret, secret_hash
from shared.etags import PRECONDITION_RESPONSES, IfMatchHeader, require_match, tagged
from shared.pagination import DEFAULT_PAGE, PageCursor, PageLimit, position_of
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
    return CreatedKey(**key_of(row).model_dump(), secret=issued.secret)


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
    return KeyPage.of_rows(rows, limit, key_of)


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
    resource = key_of(row)
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
    require_match(if_match, key_of(current))
    row = await store.revoke_key(uow, canonical)
    if row is None:
        raise not_found("API key", key_id)
    await uow.commit()
    return key_of(row)
