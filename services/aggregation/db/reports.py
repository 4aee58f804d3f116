"""Reading and writing reports and custom aggregates."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from services.aggregation.db.tables import aggregates, reports
from shared.db import UnitOfWork
from shared.problems import ProblemError


async def report_of(uow: UnitOfWork, simulation_id: str) -> sa.Row[Any]:
    """The report row of a simulation, or a 404 problem."""
    row = (
        await uow.execute(sa.select(reports).where(reports.c.simulation_id == simulation_id))
    ).first()
    if row is None:
        raise ProblemError(
            404,
            "Not Found",
            f"report not ready or simulation unknown: {simulation_id}",
            kind="not-found",
        )
    return row


def years_of(row: sa.Row[Any]) -> list[int]:
    """The years a report row covers, first first."""
    if row.reports_by_year:
        return sorted(int(year) for year in row.reports_by_year)
    return [row.year]


def report_of_year(row: sa.Row[Any], year: int | None) -> tuple[int, dict[str, Any]]:
    """The report of `year` (default: the row's first year), or a 404 problem."""
    if year is None or (year == row.year and not row.reports_by_year):
        return row.year, row.report
    if row.reports_by_year and str(year) in row.reports_by_year:
        return year, row.reports_by_year[str(year)]
    raise ProblemError(
        404,
        "Not Found",
        f"simulation {row.simulation_id} has no results for year {year}; "
        f"years: {', '.join(map(str, years_of(row)))}",
        kind="not-found",
    )


async def has_report(uow: UnitOfWork, simulation_id: str) -> bool:
    """Whether the simulation's report was built."""
    result = await uow.execute(
        sa.select(reports.c.id).where(reports.c.simulation_id == simulation_id)
    )
    return result.first() is not None


async def insert_report(uow: UnitOfWork, **values: Any) -> None:
    """Record a simulation's built report (the `reports` table's columns)."""
    await uow.execute(reports.insert().values(**values))


async def insert_aggregate(
    uow: UnitOfWork, aggregate_id: str, simulation_id: str, request: Any, result: Any
) -> None:
    """Record a computed aggregate."""
    await uow.execute(
        aggregates.insert().values(
            id=aggregate_id, simulation_id=simulation_id, request=request, result=result
        )
    )
