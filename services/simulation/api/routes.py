"""The simulation service's internal API; the gateway forwards these paths unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from services.simulation.adapters.admissions import Admissions
from services.simulation.api.schemas import SimulationPage, SimulationRequest, SimulationResource
from services.simulation.db import access
from services.simulation.db import simulations as store
from services.simulation.db.repository import SimulationRepository, simulation_of
from services.simulation.domain.simulations import (
    FIRST_YEAR,
    ID_MAX_LENGTH,
    LAST_YEAR,
    Status,
    resource_from_row,
)
from services.simulation.domain.transitions import SimulationFinished
from shared.etags import tagged
from shared.pagination import DEFAULT_PAGE, PageCursor, PageLimit, position_of
from shared.principals import CallerDep, WritingCallerDep, forbidden
from shared.problems import ProblemError, invalid, not_found, openapi_problem
from shared.service import ProcessDep, UnitOfWorkDep
from shared.sorting import NEWEST_FIRST, Sort

PATH = "/api/v1/simulations"

router = APIRouter(prefix=PATH, tags=["simulations"])


def _admissions(request: Request) -> Admissions:
    admissions: Admissions = request.app.state.admissions
    return admissions


AdmissionsDep = Annotated[Admissions, Depends(_admissions)]


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
    request: SimulationRequest,
    process: ProcessDep,
    admissions: AdmissionsDep,
    response: Response,
    caller: WritingCallerDep,
) -> SimulationResource:
    (admission,) = await admissions.admit_when_projected(
        [request], caller, process.settings.projection_wait_seconds
    )
    if admission.errors:
        raise invalid(list(admission.errors))
    assert admission.row is not None
    if not admission.new:
        response.status_code = 200
    response.headers["Location"] = f"{PATH}/{admission.row['id']}"
    return resource_from_row(admission.row)


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
    simulation = simulation_of(row)
    if simulation.status is Status.CANCELLED:
        return resource_from_row(row)
    try:
        cancel = simulation.cancel(datetime.now(UTC))
    except SimulationFinished as refused:
        raise ProblemError(
            409,
            "Conflict",
            f"simulation {simulation_id} is already {refused.status}",
            kind="conflict",
        ) from refused
    repository = SimulationRepository(uow)
    await repository.record(simulation, cancel, source=process.source)
    row = await store.find_simulation(uow, simulation_id)
    await uow.commit()
    assert row is not None  # locked, and just cancelled
    return resource_from_row(row)
