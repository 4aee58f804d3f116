"""The dataset service's internal API; the gateway forwards these paths unchanged.

Registering the same content twice gives two datasets, each with its own id and
name and the same `sha256`: a dataset is a registration, its hash names the content.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.engine import RowMapping

from contracts.envelope import CloudEvent
from contracts.events.dataset.v1 import DatasetDeleted, DatasetRegistered
from services.dataset.adapters.isolated_hdf5 import read_hdf5_isolated
from services.dataset.api.dataset_files import (
    Upload,
    archive_sources,
    dataset_root,
    keep_original,
    original_source,
    remove_files,
    store_files,
)
from services.dataset.api.schemas import (
    UPLOAD_REQUEST_BODY,
    DatasetPage,
    DatasetResource,
    SyntheticDatasetRequest,
    resource_from_row,
)
from services.dataset.api.upload_form import upload_form
from services.dataset.db.datasets import find_dataset, insert_dataset, list_datasets, mark_deleted
from services.dataset.domain.archive import stream_population_archive
from services.dataset.domain.datasets import DEFAULT_YEAR, Source, Year
from services.dataset.domain.intake import PopulationFiles, check_upload, synthesize
from shared.etags import PRECONDITION_RESPONSES, IfMatchHeader, require_match, tagged
from shared.pagination import DEFAULT_PAGE, PageCursor, PageLimit, position_of
from shared.principals import Caller, CallerDep, WritingCallerDep, forbidden
from shared.problems import ProblemError, invalid, not_found, openapi_problem
from shared.service import ProcessDep, ServiceProcess, UnitOfWorkDep
from shared.sorting import NEWEST_FIRST, Sort

PATH = "/api/v1/datasets"
T = TypeVar("T")

router = APIRouter(prefix=PATH, tags=["datasets"])


async def _register(
    process: ServiceProcess,
    *,
    name: str,
    source: Source,
    year: int,
    seed: int | None,
    population: PopulationFiles,
    owner: str | None,
    upload: Upload | None = None,
) -> RowMapping:
    """Store the files, then the row and its `dataset.registered` event in one transaction.

    Files go first so that the event never announces files that are not there yet;
    if the transaction fails before its commit, the files are removed again.
    """
    dataset_id = str(uuid.uuid4())
    root = dataset_root(process.settings, dataset_id)
    await asyncio.to_thread(store_files, root, population.files)
    record = None
    committing = False
    try:
        if upload is not None:
            record = await asyncio.to_thread(keep_original, root, upload)
        # Opened only now, so no connection is held while the files are generated or checked.
        async with process.database.unit_of_work() as uow:
            row = await insert_dataset(
                uow,
                dataset_id=dataset_id,
                name=name,
                source=source,
                year=year,
                seed=seed,
                storage_uri=root,
                population=population,
                owner=owner,
                upload=record,
            )
            event = DatasetRegistered(
                dataset_id=dataset_id,
                name=name,
                storage_uri=root,
                sha256=population.sha256,
                year=year,
                households=population.summary.households,
                people=population.summary.people,
                states=list(population.summary.states),
                owner=owner if source == "upload" else None,
            )
            await uow.publish(CloudEvent.wrap(event, source=process.source, subject=dataset_id))
            committing = True
            await uow.commit()
    except BaseException:
        # After a failed commit the outcome is unknown: keep the files rather than
        # risk a committed dataset without them.
        if not committing:
            await asyncio.to_thread(remove_files, root)
        raise
    return row


@router.post(
    "/synthetic",
    status_code=201,
    summary="Generate and register the built-in synthetic US population",
    responses={422: openapi_problem("Invalid body")},
)
async def create_synthetic_dataset(
    body: SyntheticDatasetRequest,
    process: ProcessDep,
    response: Response,
    caller: WritingCallerDep,
) -> DatasetResource:
    population = await asyncio.to_thread(synthesize, body.households, body.seed, body.year)
    row = await _register(
        process,
        name=body.name,
        source="synthetic",
        year=body.year,
        seed=body.seed,
        population=population,
        owner=caller.owner,
    )
    response.headers["Location"] = f"{PATH}/{row['id']}"
    return resource_from_row(row)


@router.post(
    "",
    status_code=201,
    summary="Register an uploaded population: a zip of the six entity Parquet (or CSV) files, "
    "or a PolicyEngine HDF5 dataset",
    openapi_extra={"requestBody": UPLOAD_REQUEST_BODY},
    responses={
        400: openapi_problem("Malformed multipart body"),
        413: openapi_problem("Upload over the size limit"),
        415: openapi_problem("Not multipart/form-data"),
        422: openapi_problem("Invalid fields, archive or population; `errors` names each problem"),
    },
)
async def upload_dataset(
    request: Request, process: ProcessDep, response: Response, caller: WritingCallerDep
) -> DatasetResource:
    max_bytes = process.settings.upload_max_bytes
    async with upload_form(request, max_bytes) as form:
        checked = await asyncio.to_thread(
            check_upload,
            form.archive.file,
            year=form.fields.year,
            max_uncompressed_bytes=max_bytes,
            read_h5=read_hdf5_isolated,
        )
        if checked.population is None:
            raise invalid(checked.errors)
        row = await _register(
            process,
            name=form.fields.name,
            source="upload",
            year=checked.year or form.fields.year or DEFAULT_YEAR,
            seed=None,
            population=checked.population,
            owner=caller.owner,
            upload=Upload(checked.format, form.archive.filename, form.archive.file),
        )
    response.headers["Location"] = f"{PATH}/{row['id']}"
    return resource_from_row(row)


@router.get(
    "",
    summary="List the datasets the caller may use (synthetic ones, their own uploads; "
    "an admin: all), newest first",
)
async def list_all_datasets(
    uow: UnitOfWorkDep,
    caller: CallerDep,
    limit: PageLimit = DEFAULT_PAGE,
    cursor: PageCursor = None,
    sort: Sort = NEWEST_FIRST,
    source: Source | None = None,
    year: Annotated[Year | None, Query()] = None,
    sha256: Annotated[str | None, Query(pattern="^[0-9a-f]{64}$")] = None,
) -> DatasetPage:
    rows = await list_datasets(
        uow,
        limit=limit + 1,
        after=position_of(cursor),
        caller=caller,
        sort=sort,
        source=source,
        year=year,
        sha256=sha256,
    )
    return DatasetPage.of_rows(rows, limit, resource_from_row)


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: openapi_problem("No such dataset, deleted, or another caller's upload")
}


@router.get("/{dataset_id}", summary="A dataset", responses=NOT_FOUND)
async def get_dataset(
    dataset_id: str, uow: UnitOfWorkDep, caller: CallerDep, response: Response
) -> DatasetResource:
    row = await find_dataset(uow, dataset_id, caller)
    if row is None:
        raise not_found("dataset", dataset_id)
    resource = resource_from_row(row)
    tagged(resource, response)
    return resource


@router.delete(
    "/{dataset_id}",
    status_code=204,
    summary="Delete a dataset (If-Match required): it is gone from the API",
    responses={
        **NOT_FOUND,
        403: openapi_problem("A dataset the caller may use but did not register"),
        **PRECONDITION_RESPONSES,
    },
)
async def delete_dataset(
    dataset_id: str,
    uow: UnitOfWorkDep,
    caller: WritingCallerDep,
    process: ProcessDep,
    if_match: IfMatchHeader = None,
) -> Response:
    row = await find_dataset(uow, dataset_id, caller, for_update=True)
    if row is None:
        raise not_found("dataset", dataset_id)
    if not caller.is_admin and row["owner"] != caller.key_id:
        raise forbidden("only the caller that registered this dataset, or an admin, deletes it")
    require_match(if_match, resource_from_row(row))
    deleted = await mark_deleted(uow, dataset_id)
    await uow.publish(
        CloudEvent.wrap(
            DatasetDeleted(dataset_id=dataset_id, deleted_at=deleted["deleted_at"]),
            source=process.source,
            subject=dataset_id,
        )
    )
    await uow.commit()
    return Response(status_code=204)


@router.get(
    "/{dataset_id}/download",
    summary="The dataset's six Parquet files as one zip",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/zip": {}},
            "headers": {"X-Content-SHA256": {"description": "the dataset's `sha256`"}},
        },
        404: openapi_problem("No such dataset"),
    },
)
async def download_dataset(
    dataset_id: str, process: ProcessDep, caller: CallerDep
) -> StreamingResponse:
    row = await _readable(process, dataset_id, caller)
    sources = await _stored(dataset_id, archive_sources, row["storage_uri"])
    return StreamingResponse(
        stream_population_archive(sources),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="dataset-{row["id"]}.zip"',
            "X-Content-SHA256": row["sha256"],
        },
    )


@router.get(
    "/{dataset_id}/original",
    summary="The uploaded file as it came, for datasets uploaded since originals are kept",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/octet-stream": {}},
            "headers": {"X-Content-SHA256": {"description": "SHA-256 of the file"}},
        },
        404: openapi_problem("No such dataset, or one without an original file"),
    },
)
async def download_original(
    dataset_id: str, process: ProcessDep, caller: CallerDep
) -> StreamingResponse:
    row = await _readable(process, dataset_id, caller)
    resource = resource_from_row(row)
    if resource.original is None:
        raise ProblemError(
            404,
            "Not Found",
            f"dataset {dataset_id} has no original file: it was generated, or uploaded "
            "before uploads were kept as they came",
            kind="not-found",
        )
    chunks = await _stored(dataset_id, original_source, row["storage_uri"])
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{resource.original.name}"',
            "Content-Length": str(resource.original.size_bytes),
            "X-Content-SHA256": resource.original.sha256,
        },
    )


async def _readable(process: ServiceProcess, dataset_id: str, caller: Caller) -> RowMapping:
    """The dataset the caller may read, or 404.

    A short transaction of its own: a per-request one would stay open while files stream.
    """
    async with process.database.unit_of_work() as uow:
        row = await find_dataset(uow, dataset_id, caller)
    if row is None:
        raise not_found("dataset", dataset_id)
    return row


async def _stored(dataset_id: str, open_files: Callable[[str], T], root: str) -> T:
    """`open_files(root)` in a thread; a file missing from storage is a 500 naming it."""
    try:
        return await asyncio.to_thread(open_files, root)
    except FileNotFoundError as exc:
        raise ProblemError(
            500, "Internal Server Error", f"dataset {dataset_id} is incomplete in storage: {exc}"
        ) from exc
