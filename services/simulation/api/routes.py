"""The simulation service's internal API; the gateway forwards these paths unchanged."""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from contracts.envelope import CloudEvent
from contracts.events.simulation.v1 import SimulationCancelled
from contracts.results.v1 import RESULT_FORMAT_VERSION
from services.simulation.db import access, projections
from services.simulation.db import simulations as store
from services.simulation.domain.keys import SimulationInputs, simulation_key
from services.simulation.domain.simulations import (
    FIRST_YEAR,
    ID_MAX_LENGTH,
    LAST_YEAR,
    SimulationPage,
    SimulationRequest,
    SimulationResource,
    Status,
    may_cancel,
    requested_event,
    resource_from_row,
    unknown_inputs,
)
from shared.db import Database, UnitOfWork
from shared.etags import tagged
from shared.pagination import DEFAULT_PAGE, PageCursor, PageLimit, position_of
from shared.principals import INTERNAL, Caller, CallerDep, WritingCallerDep, forbidden
from shared.problems import FieldError, ProblemError, invalid, not_found, openapi_problem
from shared.service import ProcessDep, UnitOfWorkDep
from shared.sorting import NEWEST_FIRST, Sort

PATH = "/api/v1/simulations"
PROJECTION_POLL_SECONDS = 0.1

router = APIRouter(prefix=PATH, tags=["simulations"])


async def _wait_for_inputs(
    database: Database, request: SimulationRequest, wait_seconds: float, caller: Caller = INTERNAL
) -> list[FieldError]:
    """The request's unknown references, after giving just-published events time to arrive.

    A client may create a dataset or policy and a simulation on it a moment later;
    the events carrying them normally reach this service's projections within a second.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    policy_ids = {request.policy_id} | (
        {request.baseline_policy_id} if request.baseline_policy_id else set()
    )
    while True:
        # A fresh transaction each time: the polls must see newly committed rows.
        async with database.unit_of_work() as uow:
            # Another caller's upload or policy, or a deleted one, is as good as unknown.
            datasets = await access.usable_datasets(uow, [request.dataset_id], caller)
            policies = await access.usable_policies(uow, policy_ids, caller)
        missing = unknown_inputs(request, datasets, policies)
        remaining = deadline - loop.time()
        if not missing or remaining <= 0:
            return missing
        await asyncio.sleep(min(PROJECTION_POLL_SECONDS, remaining))


@functools.cache
def model_version() -> str:
    """The policyengine-us version the workers run, read without importing the model."""
    return importlib.metadata.version("policyengine-us")


async def _key_of(uow: UnitOfWork, request: SimulationRequest) -> str:
    dataset = await projections.find_dataset(uow, request.dataset_id)
    policy = await projections.find_policy(uow, request.policy_id)
    baseline = (
        await projections.find_policy(uow, request.baseline_policy_id)
        if request.baseline_policy_id is not None
        else None
    )
    # _wait_for_inputs saw them; projections never delete rows (only mark them deleted).
    assert dataset is not None and policy is not None
    return simulation_key(
        SimulationInputs(
            dataset_sha256=dataset.sha256,
            policy_sha256=policy.sha256,
            baseline_policy_sha256=baseline.sha256 if baseline is not None else None,
            year=request.first_year,
            region=request.region,
            model_version=model_version(),
            result_format_version=RESULT_FORMAT_VERSION,
            years=tuple(request.window),
            outputs=tuple(request.outputs),
        )
    )


@router.post(
    "",
    status_code=202,
    summary="Request a society-wide simulation",
    description="Content-addressed: a request whose key (dataset and policies by content, "
    "years, region, model and result-format versions) has a queued, running or completed "
    "simulation is answered at once, 200, with that simulation. Otherwise a new "
    "simulation is queued, 202.",
    responses={
        200: {"model": SimulationResource, "description": "An equal simulation exists"},
        422: openapi_problem("Invalid body, or an unknown dataset or policy"),
    },
)
async def create_simulation(
    request: SimulationRequest, process: ProcessDep, response: Response, caller: WritingCallerDep
) -> SimulationResource:
    missing = await _wait_for_inputs(
        process.database, request, process.settings.projection_wait_seconds, caller
    )
    if missing:
        raise invalid(missing)
    simulation_id = str(uuid.uuid4())
    async with process.database.unit_of_work() as uow:
        key = await _key_of(uow, request)
        await store.lock_key(uow, key)
        existing = await store.find_reusable(uow, key)
        if existing is not None:
            await access.add_requester(uow, existing["id"], caller)
            await uow.commit()
            response.status_code = 200
            response.headers["Location"] = f"{PATH}/{existing['id']}"
            return resource_from_row(existing)
        row = await store.insert_simulation(uow, simulation_id, request, key=key)
        await access.add_requester(uow, simulation_id, caller)
        await uow.publish(
            CloudEvent.wrap(
                requested_event(simulation_id, request),
                source=process.source,
                subject=simulation_id,
            )
        )
        await uow.commit()
    response.headers["Location"] = f"{PATH}/{simulation_id}"
    return resource_from_row(row)


@router.get("", summary="List the caller's simulations (an admin's: all), newest first")
async def list_simulations(
    uow: UnitOfWorkDep,
    caller: CallerDep,
    limit: PageLimit = DEFAULT_PAGE,
    cursor: PageCursor = None,
    sort: Sort = NEWEST_FIRST,
    status: Status | None = None,
    dataset_id: Annotated[str | None, Query(max_length=ID_MAX_LENGTH)] = None,
    policy_id: Annotated[str | None, Query(max_length=ID_MAX_LENGTH)] = None,
    year: Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR)] = None,
) -> SimulationPage:
    rows = await access.list_visible(
        uow,
        caller,
        limit=limit + 1,
        after=position_of(cursor),
        sort=sort,
        status=status.value if status is not None else None,
        dataset_id=dataset_id,
        policy_id=policy_id,
        year=year,
    )
    return SimulationPage.of_rows(rows, limit, resource_from_row)


@router.get(
    "/{simulation_id}",
    summary="A simulation's status, and its results once completed",
    responses={404: openapi_problem("No such simulation of the caller")},
)
async def get_simulation(
    simulation_id: str, uow: UnitOfWorkDep, caller: CallerDep, response: Response
) -> SimulationResource:
    row = await access.find_visible(uow, simulation_id, caller)
    if row is None:
        raise not_found("simulation", simulation_id)
    resource = resource_from_row(row)
    tagged(resource, response)
    return resource


@router.post(
    "/{simulation_id}/cancel",
    summary="Cancel a queued or running simulation",
    description="Idempotent: cancelling a cancelled simulation answers with it unchanged. "
    "Workers skip a cancelled simulation and discard a result that arrives after it.",
    responses={
        404: openapi_problem("No such simulation"),
        409: openapi_problem("The simulation already completed or failed"),
    },
)
async def cancel_simulation(
    simulation_id: str, process: ProcessDep, uow: UnitOfWorkDep, caller: WritingCallerDep
) -> SimulationResource:
    row = await access.find_visible(uow, simulation_id, caller, for_update=True)
    if row is None:
        raise not_found("simulation", simulation_id)
    if not access.may_cancel_as(row, caller):
        raise forbidden("only the simulation's first requester, or an admin, cancels it")
    if row["status"] == Status.CANCELLED:
        return resource_from_row(row)
    if not may_cancel(row["status"]):
        raise ProblemError(
            409,
            "Conflict",
            f"simulation {simulation_id} is already {row['status']}",
            kind="conflict",
        )
    cancelled_at = datetime.now(UTC)
    row = await store.mark_cancelled(uow, simulation_id, cancelled_at=cancelled_at)
    await uow.publish(
        CloudEvent.wrap(
            SimulationCancelled(simulation_id=simulation_id, cancelled_at=cancelled_at),
            source=process.source,
            subject=simulation_id,
        )
    )
    await uow.commit()
    return resource_from_row(row)
