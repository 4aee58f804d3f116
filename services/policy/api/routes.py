"""The policy service's internal API; the gateway forwards these paths unchanged."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from contracts.envelope import CloudEvent
from contracts.events.policy.v1 import PolicyCreated, PolicyDeleted, PolicyVisibilityChanged
from services.policy.api.schemas import (
    PolicyChange,
    PolicyCreate,
    PolicyPage,
    PolicyResource,
    Visibility,
    resource_from_row,
)
from services.policy.db import policies as store
from services.policy.db.policies import PUBLIC
from services.policy.domain.parameters import ParameterTree, WarmParameterTree
from services.policy.domain.policies import content_hash
from services.policy.domain.validation import reform_errors
from shared.etags import PRECONDITION_RESPONSES, IfMatchHeader, require_match, tagged
from shared.pagination import DEFAULT_PAGE, PageCursor, PageLimit, position_of
from shared.principals import CallerDep, WritingCallerDep, forbidden
from shared.problems import (
    FieldError,
    ProblemError,
    invalid,
    not_found,
    openapi_problem,
)
from shared.service import ProcessDep, UnitOfWorkDep
from shared.sorting import NEWEST_FIRST, Sort

PATH = "/api/v1/policies"
# Loading takes most of a minute from process start; a client retrying after this
# long usually finds it done.
RETRY_AFTER_SECONDS = 15

router = APIRouter(prefix=PATH, tags=["policies"])


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


@router.post(
    "",
    status_code=201,
    summary="Validate and store a reform",
    responses={
        200: {
            "description": "A public policy with this content exists: it is the answer",
            "model": PolicyResource,
        },
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
            visibility=body.visibility,
        )
        if row is None:
            # Public, and a live public policy has this content: that one is the answer.
            row = await store.find_public_policy(uow, sha256)
            if row is None:  # deleted in between: a retry stores this one
                raise ProblemError(409, "Conflict", "retry: a public policy changed meanwhile")
            response.status_code = 200
        else:
            await uow.publish(
                CloudEvent.wrap(
                    PolicyCreated(
                        policy_id=policy_id,
                        name=body.name,
                        sha256=sha256,
                        data=data,
                        owner=caller.owner,
                        visibility=body.visibility,
                    ),
                    source=process.source,
                    subject=policy_id,
                )
            )
        await uow.commit()
    response.headers["Location"] = f"{PATH}/{row['id']}"
    resource = resource_from_row(row)
    tagged(resource, response)
    return resource


Search = Annotated[
    str | None,
    Query(
        max_length=200,
        description="words that must all appear in the name or the description (any case)",
    ),
]


@router.get(
    "",
    summary="List the caller's policies (an admin's: all), or with `visibility=public` "
    "everyone's public ones, newest first",
)
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
    visibility: Annotated[
        Visibility | None,
        Query(description="`public`: everyone's public policies; `private`: the caller's own"),
    ] = None,
    search: Search = None,
) -> PolicyPage:
    rows = await store.list_policies(
        uow,
        limit=limit + 1,
        after=position_of(cursor, _policy_id),
        caller=caller,
        sort=sort,
        name=name,
        sha256=sha256,
        visibility=visibility,
        search=(search or "").split(),
    )
    return PolicyPage.of_rows(rows, limit, resource_from_row)


@router.get(
    "/{policy_id}",
    summary="One stored reform: the caller's own, or a public one",
    responses={404: openapi_problem("No such policy, deleted, or another caller's private one")},
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


async def _own_policy(uow: UnitOfWorkDep, policy_id: str, caller: CallerDep) -> sa.RowMapping:
    """A policy the caller may change: their own (an admin: any), locked for the change."""
    row = await _visible_policy(uow, policy_id, caller, for_update=True)
    if not caller.is_admin and row["owner"] != caller.key_id:
        raise forbidden("a public policy is changed or deleted only by its owner")
    return row


PRECONDITIONS: dict[int | str, dict[str, Any]] = {
    404: openapi_problem("No such policy, deleted, or another caller's private one"),
    403: openapi_problem("Another caller's public policy"),
    **PRECONDITION_RESPONSES,
}


@router.patch(
    "/{policy_id}",
    summary="Rename a policy, change its description or its visibility (If-Match required)",
    responses={
        **PRECONDITIONS,
        409: openapi_problem("Made public while a public policy has the same content"),
        422: openapi_problem("Invalid body"),
    },
)
async def update_policy(
    policy_id: str,
    body: PolicyChange,
    uow: UnitOfWorkDep,
    caller: WritingCallerDep,
    process: ProcessDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> PolicyResource:
    row = await _own_policy(uow, policy_id, caller)
    require_match(if_match, resource_from_row(row))
    changes = body.model_dump(exclude_unset=True)
    for kept in ("name", "visibility"):
        if kept in changes and changes[kept] is None:
            raise invalid([FieldError(field=kept, message=f"a policy keeps a {kept}")])
    published = changes.get("visibility", row["visibility"]) != row["visibility"]
    if published and changes["visibility"] == PUBLIC:
        same = await store.find_public_policy(uow, row["sha256"])
        if same is not None:
            raise ProblemError(
                409,
                "Conflict",
                f"policy {same['id']} is public with the same content: use it",
                kind="conflict",
                errors=[FieldError(field="visibility", message=f"policy {same['id']} is public")],
            )
    row = await store.update_policy(uow, row["id"], **changes)
    if published:
        await uow.publish(
            CloudEvent.wrap(
                PolicyVisibilityChanged(
                    policy_id=str(row["id"]),
                    visibility=row["visibility"],
                    changed_at=row["updated_at"],
                ),
                source=process.source,
                subject=str(row["id"]),
            )
        )
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
    row = await _own_policy(uow, policy_id, caller)
    require_match(if_match, resource_from_row(row))
    deleted = await store.mark_deleted(uow, row["id"])
    await uow.publish(
        CloudEvent.wrap(
            PolicyDeleted(policy_id=str(row["id"]), deleted_at=deleted["deleted_at"]),
            source=process.source,
            subject=str(row["id"]),
        )
    )
    await uow.commit()
    return Response(status_code=204)
