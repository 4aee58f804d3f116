"""`/api/v1/parameters` and `/api/v1/variables`: policyengine-us metadata, from memory.

The catalog is built once at process start (domain/metadata.py); these routes only read
it, so they answer in milliseconds and each answer stays small: lists carry no values
over time, one parameter carries its own.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from services.policy.api.schemas import (
    ParameterPage,
    ParameterResource,
    ParameterSummary,
    ValueFromResource,
    VariablePage,
    VariableResource,
)
from services.policy.domain.metadata import (
    CatalogPage,
    Info,
    MetadataCatalog,
    ParameterInfo,
    VariableInfo,
    WarmCatalog,
)
from shared.pagination import DEFAULT_PAGE, PageCursor, PageLimit
from shared.problems import FieldError, invalid, not_found, openapi_problem

RETRY_AFTER_SECONDS = 15

router = APIRouter(tags=["metadata"])

Search = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Words that must all appear in the name, label or description "
        "(case-insensitive); none lists everything",
        examples=["child tax credit"],
    ),
]


def built_catalog(request: Request) -> MetadataCatalog:
    """The catalog, or 503 while the process is still building it."""
    warm: WarmCatalog = request.app.state.metadata_catalog
    catalog = warm.catalog
    if catalog is not None:
        return catalog
    if warm.failure is not None:
        raise HTTPException(503, "the policyengine-us metadata failed to load")
    raise HTTPException(
        503,
        "the policyengine-us metadata is still loading; retry shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


CatalogDep = Annotated[MetadataCatalog, Depends(built_catalog)]
NOT_READY = openapi_problem("The metadata is still loading; see Retry-After")


def _searched(page: Any, query: str | None, limit: int, cursor: str | None) -> CatalogPage[Info]:
    try:
        found: CatalogPage[Info] = page.search(query, limit, cursor)
    except ValueError as exc:
        raise invalid([FieldError(field="cursor", message=str(exc))]) from exc
    return found


def _summary(info: ParameterInfo) -> ParameterSummary:
    return ParameterSummary(
        name=info.name,
        label=info.label,
        description=info.description,
        unit=info.unit,
        period=info.period,
    )


def _variable(info: VariableInfo) -> VariableResource:
    return VariableResource(
        name=info.name,
        label=info.label,
        entity=info.entity,
        unit=info.unit,
        definition_period=info.definition_period,
        value_type=info.value_type,
        documentation=info.documentation,
        default_value=info.default_value,
        possible_values=list(info.possible_values) if info.possible_values is not None else None,
    )


@router.get(
    "/api/v1/parameters",
    summary="Search the parameters a reform can set",
    responses={422: openapi_problem("Invalid query, e.g. a bad cursor"), 503: NOT_READY},
)
async def search_parameters(
    catalog: CatalogDep,
    search: Search = None,
    limit: PageLimit = DEFAULT_PAGE,
    cursor: PageCursor = None,
) -> ParameterPage:
    found: CatalogPage[ParameterInfo] = _searched(catalog.parameters, search, limit, cursor)
    return ParameterPage(
        items=[_summary(info) for info in found.items], next_cursor=found.next_cursor
    )


@router.get(
    "/api/v1/parameters/{name}",
    summary="One parameter with its values over time",
    responses={404: openapi_problem("No such parameter"), 503: NOT_READY},
)
async def get_parameter(name: str, catalog: CatalogDep) -> ParameterResource:
    info = catalog.parameters.get(name)
    if info is None:
        raise not_found("parameter", name)
    return ParameterResource(
        **_summary(info).model_dump(),
        values=[ValueFromResource(start=v.start, value=v.value) for v in info.values],
    )


@router.get(
    "/api/v1/variables",
    summary="Search the variables policyengine-us computes",
    responses={422: openapi_problem("Invalid query, e.g. a bad cursor"), 503: NOT_READY},
)
async def search_variables(
    catalog: CatalogDep,
    search: Search = None,
    limit: PageLimit = DEFAULT_PAGE,
    cursor: PageCursor = None,
) -> VariablePage:
    found: CatalogPage[VariableInfo] = _searched(catalog.variables, search, limit, cursor)
    return VariablePage(
        items=[_variable(info) for info in found.items], next_cursor=found.next_cursor
    )


@router.get(
    "/api/v1/variables/{name}",
    summary="One variable's metadata",
    responses={404: openapi_problem("No such variable"), 503: NOT_READY},
)
async def get_variable(name: str, catalog: CatalogDep) -> VariableResource:
    info = catalog.variables.get(name)
    if info is None:
        raise not_found("variable", name)
    return _variable(info)
