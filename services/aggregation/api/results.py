"""Raw results and charts of a simulation, from the files its report was built from."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.responses import Response, StreamingResponse

from contracts.events.simulation.v1 import ResultFile
from contracts.results.v1 import HOUSEHOLDS_FILE
from services.aggregation.db.reports import report_of, report_of_year
from services.aggregation.domain.charts import (
    MEDIA_TYPES,
    ChartError,
    ChartName,
    ImageFormat,
    render_chart,
)
from services.aggregation.domain.results import ResultFileContent, stacked_parquet
from services.aggregation.domain.results import years_of as files_by_year
from shared import storage
from shared.problems import ProblemError, openapi_problem
from shared.service import UnitOfWorkDep

router = APIRouter(prefix="/api/v1", tags=["reports"])

SimulationId = Annotated[str, Path(max_length=64)]
Year = Annotated[int | None, Query(description="A budget window's year; default the first")]
CHUNK = 1 << 20


def stored_files(row: Any) -> list[ResultFileContent]:
    """The result files a report row records, read from storage (blocking)."""
    if not row.results:
        raise ProblemError(
            404,
            "Not Found",
            f"the results of simulation {row.simulation_id} were not recorded with its report",
            kind="not-found",
        )
    files = [ResultFile.model_validate(item) for item in row.results]
    return [
        ResultFileContent(
            uri=file.uri,
            sha256=file.sha256,
            data=storage.read_bytes(file.uri),
            name=file.name,
            year=file.year,
            partition=file.partition,
        )
        for file in files
    ]


def files_of_year(row: Any, year: int) -> list[ResultFileContent]:
    """The stored result files of one year of a report row (blocking)."""
    return files_by_year(stored_files(row), row.year).get(year, [])


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


@router.get(
    "/simulations/{simulation_id}/results",
    summary="Download the household-level results as Parquet",
    description="One file per year (`year`, default the first of a budget window): every "
    "stored household column, partitions stacked, rows sorted by household_id. "
    "`X-Content-SHA256` is the hex SHA-256 of the body, `Repr-Digest` the same (RFC 9530).",
    response_class=Response,
    responses={
        200: {"content": {"application/vnd.apache.parquet": {}}},
        404: openapi_problem("No report yet, unknown simulation, or no such year"),
    },
)
async def download_results(
    simulation_id: SimulationId, uow: UnitOfWorkDep, year: Year = None
) -> StreamingResponse:
    row = await report_of(uow, simulation_id)
    chosen, _ = report_of_year(row, year)
    files = await asyncio.to_thread(files_of_year, row, chosen)
    data = await asyncio.to_thread(stacked_parquet, files, HOUSEHOLDS_FILE)
    digest = hashlib.sha256(data)
    return StreamingResponse(
        _chunks(data),
        media_type="application/vnd.apache.parquet",
        headers={
            "Content-Length": str(len(data)),
            "Content-Disposition": (
                f'attachment; filename="{simulation_id}-{chosen}-households.parquet"'
            ),
            "X-Content-SHA256": digest.hexdigest(),
            "Repr-Digest": f"sha-256=:{base64.b64encode(digest.digest()).decode()}:",
        },
    )


@router.get(
    "/simulations/{simulation_id}/charts/{chart}.{fmt}",
    summary="A chart of the impact report (decile, winners, poverty, budget) as PNG or SVG",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}, "image/svg+xml": {}}},
        404: openapi_problem("No report yet, unknown simulation, or no such year"),
    },
)
async def chart(
    simulation_id: SimulationId,
    chart: ChartName,
    fmt: ImageFormat,
    uow: UnitOfWorkDep,
    year: Year = None,
) -> Response:
    row = await report_of(uow, simulation_id)
    chosen, report = report_of_year(row, year)
    try:
        image = await asyncio.to_thread(render_chart, report, chart, fmt, chosen)
    except ChartError as exc:
        raise ProblemError(404, "Not Found", str(exc), kind="not-found") from exc
    return Response(image, media_type=MEDIA_TYPES[fmt])
