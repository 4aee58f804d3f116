"""The aggregation service's internal API: impact reports of simulations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from services.aggregation.api.schemas import ImpactReport
from services.aggregation.db.reports import report_of, years_of
from shared.problems import openapi_problem
from shared.service import UnitOfWorkDep

router = APIRouter(prefix="/api/v1", tags=["reports"])


@router.get(
    "/simulations/{simulation_id}/report",
    summary="The impact report of a simulation",
    responses={404: openapi_problem("The report is not ready or the simulation is unknown")},
)
async def get_report(
    simulation_id: Annotated[str, Path(max_length=64)], uow: UnitOfWorkDep
) -> ImpactReport:
    row = await report_of(uow, simulation_id)
    return ImpactReport(
        report_id=row.id,
        simulation_id=row.simulation_id,
        dataset_id=row.dataset_id,
        policy_id=row.policy_id,
        baseline_policy_id=row.baseline_policy_id,
        year=row.year,
        model_version=row.model_version,
        created_at=row.created_at,
        report=row.report,
        years=years_of(row),
        reports_by_year=row.reports_by_year,
        budget_window=row.budget_window,
    )
