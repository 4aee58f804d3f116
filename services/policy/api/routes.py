"""The policy service's internal API; the gateway forwards these paths unchanged."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from contracts.envelope import CloudEvent
from contracts.events.policy.v1 import PolicyCreated, PolicyDeleted
from services.policy.db import policies as store
from services.policy.domain.parameters import ParameterTree, WarmParameterTree
from services.policy.domain.policies import content_hash
from services.policy.domain.validation import EXAMPLE, holds_nul, reform_errors
from shared.etags import PRECONDITION_RESPONSES, IfMatchHeader, require_match, tagged
from shared.pagination import DEFAULT_PAGE, Page, PageCursor, PageLimit, position_of
from shared.principals import CallerDep, WritingCallerDep
from shared.problems import NUL_MESSAGE, FieldError, invalid, not_found, openapi_problem
from shared.service import ProcessDep, UnitOfWorkDep
from shared.sorting import NEWEST_FIRST, Sort

PATH = "/api/v1/policies"
# Loading takes most of a minute from process start; a client retrying after this
# long usually finds it done.
RETRY_AFTER_SECONDS = 15

router = APIRouter(prefix=PATH, tags=["policies"])

ReformData = Annotated[
    Any,
    WithJsonSchema(
        {
            "type": "object",
            "description": "A reform in PolicyEngine's format: {parameter path: {period: value}}",
            "additionalProperties": {"type": "object"},
            "example": {
                "gov.irs.credits.ctc.amount.base[0].amount": {"2026-01-01.2100-12-31": 3000}
            },
        }
    ),
]


def _storable(text: str) -> str:
    if holds_nul(text):
        raise ValueError(NUL_MESSAGE)
    return text


# Text Postgres can store: no NUL character.
StorableText = Annotated[str, AfterValidator(_storable)]


class PolicyCreate(BaseModel):
    """A reform to validate and store."""

    model_config = ConfigDict(extra="forbid")

    name: StorableText = Field(min_length=1, max_length=200)
    description: StorableText | None = Field(default=None, max_length=5000)
    # Checked by domain/validation.py rather than by the model, so that every error in
    # it is reported at once, each at its parameter path.
    data: ReformData = Field(description=f"e.g. {EXAMPLE}")


class PolicyResource(BaseModel):
    """A stored reform."""

    id: str
    name: str
    description: str | None = None
    data: dict[str, Any]
    sha256: str = Field(description="SHA-256 of the canonical JSON of `data`")
    owner: str | None = Field(
        default=None, description="The API key (or token subject) that stored it"
    )
    created_at: datetime
    updated_at: datetime


class PolicyChange(BaseModel):
    """The fields of a policy to change; its reform (`data`) never changes."""

    model_config = ConfigDict(extra="forbid")

    name: StorableText | None = Field(default=None, min_length=1, max_length=200)
    description: StorableText | None = Field(default=None, max_length=5000)


class PolicyPage(Page[PolicyResource]):
    """One page of policies, newest first; pass `next_cursor` back for the next page."""


def warm_tree_of(request: Request) -> WarmParameterTree:
    warm: WarmParameterTree = request.app.state.parameter_tree
    return warm


def loaded_tree(warm: Annotated[WarmParameterTree, Depends(warm_tree_of)]) -> ParameterTree:
    """The parameter tree, or 503 while the process is still loading it."""
    tree = warm.tree
    if tree is not None:
        return tree
    if warm.failure is not None:
        raise HTTPException(503, "the policyengine-us parameter tree failed to load")
    raise HTTPException(
        503,
        "the policyengine-us parameter tree is still loading; retry shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


ParameterTreeDep = Annotated[ParameterTree, Depends(loaded_tree)]


def _policy_id(text: str) -> str:
    """The canonical form of a policy id, which the table holds as a UUID; ValueError if none."""
    return str(uuid.UUID(text))


def resource_from_row(row: sa.RowMapping) -> PolicyResource:
    return PolicyResource(
        id=str(row["id"]),
        name=row["name"],
        description=row["description"],
        data=row["data"],
        sha256=row["sha256"],
        owner=row["owner"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


@router.post(
    "",
    status_code=201,
    summary="Validate and store a reform",
    responses={
        422: openapi_problem("Invalid body; `errors` lists every problem at its parameter path"),
        503: openapi_problem("The parameter tree is still loading; see Retry-After"),
    },
)
async def create_policy(
    body: PolicyCreate,
    tree: ParameterTreeDep,
    process: ProcessDep,
    response: Response,
    caller: WritingCallerDep,
) -> PolicyResource:
    errors = reform_errors(body.data, tree)
    if errors:
        raise invalid(errors)
    data: dict[str, Any] = body.data
    policy_id = str(uuid.uuid4())
    sha256 = content_hash(data)
    async with process.database.unit_of_work() as uow:
        row = await store.insert_policy(
            uow,
            policy_id=policy_id,
            name=body.name,
            description=body.description,
            data=data,
            sha256=sha256,
            owner=caller.owner,
        )
        await uow.publish(
            CloudEvent.wrap(
                PolicyCreated(
                    policy_id=policy_id,
                    name=body.name,
                    sha256=sha256,
                    data=data,
                    owner=caller.owner,
                ),
                source=process.source,
                subject=policy_id,
            )
        )
        await uow.commit()
    response.headers["Location"] = f"{PATH}/{policy_id}"
    resource = resource_from_row(row)
    tagged(resource, response)
    return resource


@router.get("", summary="List the caller's policies (an admin's: all), newest first")
async def list_policies(
    uow: UnitOfWorkDep,
    caller: CallerDep,
    limit: PageLimit = DEFAULT_PAGE,
    cursor: PageCursor = None,
    sort: Sort = NEWEST_FIRST,
    name: Annotated[str | None, Query(max_length=200, description="exactly this name")] = None,
    sha256: Annotated[
        str | None, Query(pattern="^[0-9a-f]{64}$", description="this content hash")
    ] = None,
) -> PolicyPage:
    rows = await store.list_policies(
        uow,
        limit=limit + 1,
        after=position_of(cursor, _policy_id),
        caller=caller,
        sort=sort,
        name=name,
        sha256=sha256,
    )
    return PolicyPage.of_rows(rows, limit, resource_from_row)


@router.get(
    "/{policy_id}",
    summary="One stored reform",
    responses={404: openapi_problem("No such policy, deleted, or not the caller's")},
)
async def get_policy(
    policy_id: str, uow: UnitOfWorkDep, caller: CallerDep, response: Response
) -> PolicyResource:
    row = await _visible_policy(uow, policy_id, caller)
    resource = resource_from_row(row)
    tagged(resource, response)
    return resource


async def _visible_policy(
    uow: UnitOfWorkDep, policy_id: str, caller: CallerDep, *, for_update: bool = False
) -> sa.RowMapping:
    try:
        canonical_id = _policy_id(policy_id)
    except ValueError:
        raise not_found("policy", policy_id) from None
    row = await store.find_policy(uow, canonical_id, caller, for_update=for_update)
    if row is None:
        raise not_found("policy", policy_id)
    return row


PRECONDITIONS: dict[int | str, dict[str, Any]] = {
    404: openapi_problem("No such policy, deleted, or not the caller's"),
    **PRECONDITION_RESPONSES,
}


@router.patch(
    "/{policy_id}",
    summary="Rename a policy or change its description (If-Match required)",
    responses={**PRECONDITIONS, 422: openapi_problem("Invalid body")},
)
async def update_policy(
    policy_id: str,
    body: PolicyChange,
    uow: UnitOfWorkDep,
    caller: WritingCallerDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> PolicyResource:
    row = await _visible_policy(uow, policy_id, caller, for_update=True)
    require_match(if_match, resource_from_row(row))
    changes = body.model_dump(exclude_unset=True)
    if changes.get("name", "") is None:
        raise invalid([FieldError(field="name", message="a policy keeps a name")])
    row = await store.update_policy(uow, row["id"], **changes)
    await uow.commit()
    resource = resource_from_row(row)
    tagged(resource, response)
    return resource


@router.delete(
    "/{policy_id}",
    status_code=204,
    summary="Delete a policy (If-Match required); it is gone from the API",
    responses=PRECONDITIONS,
)
async def delete_policy(
    policy_id: str,
    uow: UnitOfWorkDep,
    caller: WritingCallerDep,
    process: ProcessDep,
    if_match: IfMatchHeader = None,
) -> Response:
    row = await _visible_policy(uow, policy_id, caller, for_update=True)
    require_match(if_match, resource_from_row(row))
    deleted = await store.update_policy(uow, row["id"], deleted_at=sa.func.now())
    await uow.publish(
        CloudEvent.wrap(
            PolicyDeleted(policy_id=str(row["id"]), deleted_at=deleted["deleted_at"]),
            source=process.source,
            subject=str(row["id"]),
        )
    )
    await uow.commit()
    return Response(status_code=204)
