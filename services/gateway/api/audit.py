"""`GET /api/v1/audit`: who changed what and when, for admins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from services.gateway.api.guard import CurrentPrincipal, PublicRoute
from services.gateway.api.schemas import AuditPage, entry_of
from services.gateway.db import audit as store
from shared.pagination import DEFAULT_PAGE, PageCursor, PageLimit, position_of
from shared.principals import forbidden
from shared.problems import openapi_problem
from shared.service import UnitOfWorkDep
from shared.sorting import NEWEST_FIRST, Sort

PATH = "/api/v1/audit"
SECURED: dict[str, Any] = {"security": [{"apiKey": []}]}

router = APIRouter(
    prefix=PATH,
    tags=["audit"],
    route_class=PublicRoute,
    responses={
        401: openapi_problem("Missing, wrong or revoked credentials"),
        403: openapi_problem("Not an admin"),
        422: openapi_problem("Invalid filter, sort or cursor"),
        429: openapi_problem("Rate limit reached; see Retry-After"),
    },
)


def _entry_id(text: str) -> str:
    return str(uuid.UUID(text))


@router.get("", summary="The audit log of changes (admin)", openapi_extra=SECURED)
async def list_audit_entries(
    principal: CurrentPrincipal,
    uow: UnitOfWorkDep,
    limit: PageLimit = DEFAULT_PAGE,
    cursor: PageCursor = None,
    sort: Sort = NEWEST_FIRST,
    principal_id: Annotated[
        str | None, Query(alias="principal", max_length=64, description="who changed")
    ] = None,
    method: Literal["POST", "PUT", "PATCH", "DELETE"] | None = None,
    resource_type: Annotated[str | None, Query(max_length=64)] = None,
    resource_id: Annotated[str | None, Query(max_length=128)] = None,
    status: Annotated[int | None, Query(ge=100, le=599)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditPage:
    if principal.role != "admin":
        raise forbidden("only an admin reads the audit log")
    # A time without a zone is taken as UTC.
    since, until = (t.replace(tzinfo=t.tzinfo or UTC) if t else None for t in (since, until))
    rows = await store.list_entries(
        uow,
        limit=limit + 1,
        after=position_of(cursor, _entry_id),
        sort=sort,
        since=since,
        until=until,
        principal=principal_id,
        method=method,
        resource_type=resource_type,
        resource_id=resource_id,
        status=status,
    )
    return AuditPage.of_rows(rows, limit, entry_of)
