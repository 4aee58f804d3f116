"""The webhooks service's internal API: endpoints, their secrets and their deliveries.

The gateway names the caller in `x-fiscus-principal: <key_id>:<role>`; an endpoint
belongs to the key that created it, and only that key (or an admin) sees it.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Header, Path, Query, Request, Response

from contracts.envelope import CloudEvent
from contracts.events.webhook.v1 import WebhookTest
from services.webhooks.adapters.targets import RefusedTarget, checked_address
from services.webhooks.api.schemas import (
    Delivery,
    DeliveryPage,
    Endpoint,
    EndpointChange,
    EndpointPage,
    EndpointSecret,
    EndpointWithSecret,
    NewEndpoint,
    delivery_of,
    endpoint_of,
)
from services.webhooks.db import deliveries as delivery_log
from services.webhooks.db import endpoints as store
from services.webhooks.db.scheduling import enqueue, enqueue_body
from services.webhooks.domain.endpoints import unknown_event_types
from services.webhooks.domain.sealing import seal
from services.webhooks.domain.signing import new_secret
from shared.db import UnitOfWork
from shared.etags import PRECONDITION_RESPONSES, IfMatchHeader, require_match, tagged
from shared.pagination import DEFAULT_PAGE, PageCursor, PageLimit, position_of
from shared.principals import Caller, caller_of
from shared.problems import FieldError, ProblemError, invalid, not_found, openapi_problem
from shared.service import UnitOfWorkDep
from shared.settings import Settings
from shared.sorting import NEWEST_FIRST, Sort

router = APIRouter(
    prefix="/api/v1/webhooks",
    tags=["webhooks"],
    responses={
        401: openapi_problem("The request does not name its caller"),
        422: openapi_problem("The request is invalid"),
    },
)

EndpointId = Annotated[str, Path(max_length=64)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: openapi_problem("No such endpoint of the caller")
}
PRECONDITIONS = {**NOT_FOUND, **PRECONDITION_RESPONSES}
TEST_MESSAGE = "A test delivery from Fiscus; it needs no action."


def current_caller(
    x_fiscus_principal: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Caller:
    caller = caller_of(x_fiscus_principal)
    if caller is None:
        raise ProblemError(401, "Unauthorized", "the caller is not named", kind="unauthorized")
    return caller


def sealed(secret: str, request: Request) -> str:
    """The secret as the database keeps it: sealed with the deployment's key."""
    settings: Settings = request.app.state.settings
    return seal(secret, settings.webhooks_secret_key.get_secret_value())


def writing_caller(
    x_fiscus_principal: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Caller:
    caller = current_caller(x_fiscus_principal)
    if caller.role == "readonly":
        raise ProblemError(403, "Forbidden", "a read-only key cannot change webhooks")
    return caller


async def checked_url(url: str, request: Request) -> str:
    """`url` if it may receive webhooks now; a 422 problem naming `url` otherwise."""
    try:
        await checked_address(url, allow_private=request.app.state.settings.webhooks_allow_private)
    except RefusedTarget as exc:
        raise invalid([FieldError(field="url", message=str(exc))]) from exc
    return url


def checked_event_types(event_types: list[str]) -> list[str]:
    unknown = unknown_event_types(event_types)
    if unknown:
        raise invalid(
            [FieldError(field="event_types", message=f"unknown event types: {', '.join(unknown)}")]
        )
    return list(dict.fromkeys(event_types))


async def owned_endpoint(
    uow: UnitOfWork, caller: Caller, endpoint_id: str, *, lock: bool = False
) -> sa.RowMapping:
    row = await store.find_endpoint(uow, endpoint_id, lock=lock)
    if row is None or not caller.may_see(row["owner"]):
        raise not_found("endpoint", endpoint_id)
    return row


def wake_deliveries(request: Request) -> None:
    request.app.state.wake_deliveries()


@router.post("", status_code=201, summary="Register an endpoint (its secret is shown once)")
async def create_endpoint(
    body: NewEndpoint, request: Request, uow: UnitOfWorkDep, response: Response
) -> EndpointWithSecret:
    caller = writing_caller(request.headers.get("x-fiscus-principal"))
    event_types = checked_event_types(body.event_types)
    url = await checked_url(body.url, request)
    secret = new_secret()
    row = await store.insert_endpoint(
        uow,
        owner=caller.key_id,
        url=url,
        description=body.description,
        event_types=event_types,
        sealed_secret=sealed(secret, request),
    )
    await uow.commit()
    response.headers["Location"] = f"/api/v1/webhooks/{row['id']}"
    return EndpointWithSecret(**endpoint_of(row).model_dump(), secret=secret)


@router.get("", summary="The caller's endpoints, newest first")
async def list_endpoints(
    request: Request,
    uow: UnitOfWorkDep,
    limit: PageLimit = DEFAULT_PAGE,
    cursor: PageCursor = None,
    sort: Sort = NEWEST_FIRST,
    enabled: bool | None = None,
    event_type: Annotated[
        str | None, Query(max_length=128, description="endpoints subscribed to this type")
    ] = None,
) -> EndpointPage:
    caller = current_caller(request.headers.get("x-fiscus-principal"))
    rows = await store.list_endpoints(
        uow,
        limit=limit + 1,
        after=position_of(cursor),
        sort=sort,
        caller=caller,
        enabled=enabled,
        event_type=event_type,
    )
    return EndpointPage.of_rows(rows, limit, endpoint_of)


@router.get("/{endpoint_id}", summary="One of the caller's endpoints", responses=NOT_FOUND)
async def get_endpoint(
    endpoint_id: EndpointId, request: Request, uow: UnitOfWorkDep, response: Response
) -> Endpoint:
    caller = current_caller(request.headers.get("x-fiscus-principal"))
    endpoint = endpoint_of(await owned_endpoint(uow, caller, endpoint_id))
    tagged(endpoint, response)
    return endpoint


@router.patch(
    "/{endpoint_id}", summary="Change an endpoint (If-Match required)", responses=PRECONDITIONS
)
async def update_endpoint(
    endpoint_id: EndpointId,
    body: EndpointChange,
    request: Request,
    uow: UnitOfWorkDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> Endpoint:
    caller = writing_caller(request.headers.get("x-fiscus-principal"))
    current = await owned_endpoint(uow, caller, endpoint_id, lock=True)
    require_match(if_match, endpoint_of(current))
    changes: dict[str, Any] = {}
    if body.event_types is not None:
        changes["event_types"] = checked_event_types(body.event_types)
    if body.url is not None:
        changes["url"] = await checked_url(body.url, request)
    if body.description is not None:
        changes["description"] = body.description
    if body.enabled is True:
        changes.update(enabled=True, disabled_reason=None, consecutive_failures=0)
    elif body.enabled is False:
        changes.update(enabled=False, disabled_reason="disabled by its owner")
    row = await store.update_endpoint(uow, endpoint_id, **changes)
    await uow.commit()
    if body.enabled:
        wake_deliveries(request)
    endpoint = endpoint_of(row)
    tagged(endpoint, response)
    return endpoint


@router.delete(
    "/{endpoint_id}",
    status_code=204,
    summary="Delete an endpoint (If-Match required): it stops receiving events",
    responses=PRECONDITIONS,
)
async def delete_endpoint(
    endpoint_id: EndpointId, request: Request, uow: UnitOfWorkDep, if_match: IfMatchHeader = None
) -> Response:
    caller = writing_caller(request.headers.get("x-fiscus-principal"))
    current = await owned_endpoint(uow, caller, endpoint_id, lock=True)
    require_match(if_match, endpoint_of(current))
    await store.delete_endpoint(uow, endpoint_id)
    await uow.commit()
    return Response(status_code=204)


@router.post(
    "/{endpoint_id}/rotate-secret",
    summary="Replace the signing secret (the new one is shown once)",
    responses=NOT_FOUND,
)
async def rotate_secret(
    endpoint_id: EndpointId, request: Request, uow: UnitOfWorkDep
) -> EndpointSecret:
    caller = writing_caller(request.headers.get("x-fiscus-principal"))
    await owned_endpoint(uow, caller, endpoint_id, lock=True)
    secret = new_secret()
    await store.replace_secret(uow, endpoint_id, sealed(secret, request))
    await uow.commit()
    return EndpointSecret(id=endpoint_id, secret=secret)


def require_enabled(endpoint: sa.RowMapping) -> None:
    if not endpoint["enabled"]:
        raise ProblemError(
            409,
            "Conflict",
            f"endpoint {endpoint['id']} is disabled; enable it first",
            kind="endpoint-disabled",
        )


@router.post(
    "/{endpoint_id}/test",
    status_code=202,
    summary="Send a `webhook.test` event to the endpoint",
    responses={**NOT_FOUND, 409: openapi_problem("The endpoint is disabled")},
)
async def send_test_event(
    endpoint_id: EndpointId, request: Request, uow: UnitOfWorkDep
) -> Delivery:
    caller = writing_caller(request.headers.get("x-fiscus-principal"))
    endpoint = await owned_endpoint(uow, caller, endpoint_id)
    require_enabled(endpoint)
    event = CloudEvent.wrap(
        WebhookTest(endpoint_id=endpoint_id, message=TEST_MESSAGE),
        source="/fiscus/webhooks",
        subject=endpoint_id,
    )
    delivery_id = await enqueue(uow, endpoint_id, event)
    row = await delivery_log.get_delivery(uow, delivery_id)
    await uow.commit()
    wake_deliveries(request)
    return delivery_of(row)


@router.get(
    "/{endpoint_id}/deliveries",
    summary="Deliveries to the endpoint, newest first, with every attempt",
    responses=NOT_FOUND,
)
async def list_deliveries(
    endpoint_id: EndpointId,
    request: Request,
    uow: UnitOfWorkDep,
    limit: PageLimit = DEFAULT_PAGE,
    cursor: PageCursor = None,
) -> DeliveryPage:
    caller = current_caller(request.headers.get("x-fiscus-principal"))
    await owned_endpoint(uow, caller, endpoint_id)
    rows = await delivery_log.list_deliveries(
        uow, endpoint_id, limit=limit + 1, after=position_of(cursor)
    )
    by_delivery = await delivery_log.attempts_of(uow, [row["id"] for row in rows[:limit]])
    return DeliveryPage.of_rows(
        rows, limit, lambda row: delivery_of(row, by_delivery.get(row["id"], []))
    )


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    summary="Send a delivery's event again, as a new delivery",
    responses={
        404: openapi_problem("No such endpoint of the caller or delivery of it"),
        409: openapi_problem("The endpoint is disabled"),
    },
)
async def redeliver(
    endpoint_id: EndpointId,
    delivery_id: Annotated[str, Path(max_length=64)],
    request: Request,
    uow: UnitOfWorkDep,
) -> Delivery:
    caller = writing_caller(request.headers.get("x-fiscus-principal"))
    endpoint = await owned_endpoint(uow, caller, endpoint_id)
    original = await delivery_log.find_delivery_to(uow, endpoint_id, delivery_id)
    if original is None:
        raise not_found("delivery", delivery_id)
    require_enabled(endpoint)
    new_id = await enqueue_body(
        uow,
        endpoint_id,
        event_id=original["event_id"],
        event_type=original["event_type"],
        body=original["body"],
        redelivery_of=delivery_id,
    )
    row = await delivery_log.get_delivery(uow, new_id)
    await uow.commit()
    wake_deliveries(request)
    return delivery_of(row)
