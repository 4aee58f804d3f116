"""The aggregation service's internal API: impact reports of simulations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from services.aggregation.db.reports import report_of, years_of
from shared.problems import openapi_problem
from shared.service import UnitOfWorkDep

router = APIRouter(prefix="/api/v1", tags=["reports"])


class ImpactReport(BaseModel):
    """A simulation's impact report, with PolicyEngine API v1's economy-output keys."""

    report_id: str
    simulation_id: str
    dataset_id: str
    policy_id: str
    baseline_policy_id: str | None
    year: int
    model_version: str
    created_at: datetime
    report: dict[str, Any]
    """The report of `year` (the first year of a budget window)."""
    years: list[int]
    """The years simulated, first first; one for a single-year simulation."""
    reports_by_year: dict[str, dict[str, Any]] | None = None
    """With several years: each year's report, keyed by the year."""
    budget_window: dict[str, Any] | None = None
    """With several years: each year's budget numbers and their totals."""


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
