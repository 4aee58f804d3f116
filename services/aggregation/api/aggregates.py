"""Custom aggregates over a simulation's stored results."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path

from contracts.envelope import CloudEvent
from contracts.events.aggregate.v1 import AggregateCompleted
from contracts.results.v1 import HOUSEHOLDS_FILE, PEOPLE_FILE
from services.aggregation.api.results import files_of_year
from services.aggregation.api.schemas import Aggregate, AggregateRequest
from services.aggregation.db.reports import insert_aggregate, report_of, report_of_year
from services.aggregation.domain.aggregates import AggregateRefused, compute_aggregate
from services.aggregation.domain.results import read_frame
from shared.problems import FieldError, invalid, openapi_problem
from shared.service import ProcessDep

router = APIRouter(prefix="/api/v1", tags=["aggregates"])


def aggregate_of(row: Any, year: int, request: AggregateRequest) -> dict[str, Any]:
    """Read the year's results of the entity and compute (blocking)."""
    name = HOUSEHOLDS_FILE if request.entity == "household" else PEOPLE_FILE
    frame = read_frame(files_of_year(row, year), name)
    return compute_aggregate(frame, request)


@router.post(
    "/simulations/{simulation_id}/aggregates",
    summary="A weighted statistic of a stored result column",
    description="Weights as the report's: household_weight for households, person_weight "
    "for people. `variable` is a stored column (see the results format): a policy-dependent "
    "one is read under `policy` (change: reform minus baseline). Filters and group_by read "
    "policy-dependent variables under the baseline. Emits `aggregate.completed`.",
    responses={
        404: openapi_problem("No report yet, unknown simulation, or no such year"),
        422: openapi_problem("Invalid body, or a column the results do not hold"),
    },
)
async def create_aggregate(
    simulation_id: Annotated[str, Path(max_length=64)],
    request: AggregateRequest,
    process: ProcessDep,
) -> Aggregate:
    async with process.database.unit_of_work() as uow:
        row = await report_of(uow, simulation_id)
    year, _ = report_of_year(row, request.year)
    try:
        result = await asyncio.to_thread(aggregate_of, row, year, request)
    except AggregateRefused as exc:
        raise invalid([FieldError(field=exc.field, message=str(exc))]) from exc
    aggregate = Aggregate(
        aggregate_id=str(uuid.uuid4()),
        simulation_id=simulation_id,
        year=year,
        request=request,
        **result,
    )
    async with process.database.unit_of_work() as uow:
        await insert_aggregate(
            uow,
            aggregate.aggregate_id,
            simulation_id,
            request.model_dump(mode="json"),
            aggregate.model_dump(mode="json", include={"value", "rows", "weight", "groups"}),
        )
        await uow.publish(
            CloudEvent.wrap(
                AggregateCompleted(
                    simulation_id=simulation_id,
                    aggregate_id=aggregate.aggregate_id,
                    variable=request.variable,
                    entity=request.entity,
                    stat=request.stat,
                    policy=request.policy,
                    year=year,
                    value=aggregate.value,
                    groups=aggregate.groups,
                ),
                source=process.source,
                subject=simulation_id,
            )
        )
        await uow.commit()
    return aggregate
