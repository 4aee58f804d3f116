"""The simulation service's internal API; the gateway forwards these paths unchanged."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, Response

from contracts.envelope import CloudEvent
from contracts.events.simulation.v1 import SimulationRequested
from services.simulation.db import projections
from services.simulation.db import simulations as store
from services.simulation.domain.simulations import (
    SimulationPage,
    SimulationRequest,
    SimulationResource,
    Status,
    resource_from_row,
    unknown_inputs,
)
from shared.db import Database
from shared.pagination import DEFAULT_PAGE, PageCursor, PageLimit, position_of
from shared.problems import FieldError, invalid, not_found, openapi_problem
from shared.service import ProcessDep, UnitOfWorkDep

PATH = "/api/v1/simulations"
PROJECTION_POLL_SECONDS = 0.1

router = APIRouter(prefix=PATH, tags=["simulations"])


async def _wait_for_inputs(
    database: Database, request: SimulationRequest, wait_seconds: float
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
            datasets = await projections.known_datasets(uow, [request.dataset_id])
            policies = await projections.known_policies(uow, policy_ids)
        missing = unknown_inputs(request, datasets, policies)
        remaining = deadline - loop.time()
        if not missing or remaining <= 0:
            return missing
        await asyncio.sleep(min(PROJECTION_POLL_SECONDS, remaining))


@router.post(
    "",
    status_code=202,
    summary="Request a society-wide simulation",
    responses={422: openapi_problem("Invalid body, or an unknown dataset or policy")},
)
async def create_simulation(
    request: SimulationRequest, process: ProcessDep, response: Response
) -> SimulationResource:
    missing = await _wait_for_inputs(
        process.database, request, process.settings.projection_wait_seconds
    )
    if missing:
        raise invalid(missing)
    simulation_id = str(uuid.uuid4())
    async with process.database.unit_of_work() as uow:
        row = await store.insert_simulation(uow, simulation_id, request)
        await uow.publish(
            CloudEvent.wrap(
                SimulationRequested(
                    simulation_id=simulation_id,
                    dataset_id=request.dataset_id,
                    policy_id=request.policy_id,
                    baseline_policy_id=request.baseline_policy_id,
                    year=request.year,
                ),
                source=process.source,
                subject=simulation_id,
            )
        )
        await uow.commit()
    response.headers["Location"] = f"{PATH}/{simulation_id}"
    return resource_from_row(row)


@router.get("", summary="List simulations, newest first")
async def list_simulations(
    uow: UnitOfWorkDep,
    limit: PageLimit = DEFAULT_PAGE,
    cursor: PageCursor = None,
    status: Status | None = None,
) -> SimulationPage:
    rows = await store.list_simulations(
        uow, limit=limit + 1, after=position_of(cursor), status=status
    )
    return SimulationPage.of_rows(rows, limit, resource_from_row)


@router.get(
    "/{simulation_id}",
    summary="A simulation's status, and its results once completed",
    responses={404: openapi_problem("No such simulation")},
)
async def get_simulation(simulation_id: str, uow: UnitOfWorkDep) -> SimulationResource:
    row = await store.find_simulation(uow, simulation_id)
    if row is None:
        raise not_found("simulation", simulation_id)
    return resource_from_row(row)
