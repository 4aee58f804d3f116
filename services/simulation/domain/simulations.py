"""A simulation's life: what may be requested, how its status moves, how it reads.

queued ──▶ running ──▶ completed
   │          │ ▲
   │          └─┘ (redelivered after a worker died)
   ├──────────┴──▶ failed
   └──────────┴──▶ cancelled (on request; a late result is discarded)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.pagination import Page
from shared.problems import FieldError

FIRST_YEAR = 2023
LAST_YEAR = 2035
ID_MAX_LENGTH = 64


class Status(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED: frozenset[Status] = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})

# A simulation in one of these answers a new request with the same key: its result
# exists or is on its way. A failed or cancelled one does not: asking again retries.
REUSABLE: tuple[Status, ...] = (Status.QUEUED, Status.RUNNING, Status.COMPLETED)


def is_finished(status: str) -> bool:
    """A finished simulation never changes again; a redelivered request for it is a no-op."""
    return Status(status) in FINISHED


def may_cancel(status: str) -> bool:
    """Whether a cancel request changes the simulation: only one not yet finished."""
    return Status(status) in (Status.QUEUED, Status.RUNNING)


def may_start(status: str) -> bool:
    """Whether a worker may (re)start the calculation: a running one was abandoned by a crash."""
    return Status(status) in (Status.QUEUED, Status.RUNNING)


def attempts_exhausted(attempts: int, limit: int) -> bool:
    """Whether the delivery about to run the calculation exceeds the allowed attempts.

    A job that kills its worker (out of memory) is redelivered, never reaching a
    handler's `except`; counting attempts is how it ends as failed rather than
    poisoning workers forever.
    """
    return attempts > limit


def failure_of(error: BaseException) -> tuple[str, str]:
    """The `(error_type, reason)` recorded for a failed calculation."""
    error_type = type(error).__name__
    message = str(error).strip()
    return error_type, f"{error_type}: {message}" if message else error_type


class SimulationRequest(BaseModel):
    """The body of `POST /api/v1/simulations`."""

    model_config = ConfigDict(extra="forbid")

    dataset_id: str = Field(min_length=1, max_length=ID_MAX_LENGTH)
    policy_id: str = Field(min_length=1, max_length=ID_MAX_LENGTH)
    baseline_policy_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=ID_MAX_LENGTH,
        description="The policy to compare against; current law when absent.",
    )
    year: int = Field(ge=FIRST_YEAR, le=LAST_YEAR)
    region: Literal["us"] = Field(
        default="us", description="The households simulated; only the whole country for now."
    )


def unknown_inputs(
    request: SimulationRequest, known_datasets: set[str], known_policies: set[str]
) -> list[FieldError]:
    """The request's references that this service's projections do not hold."""
    errors: list[FieldError] = []
    if request.dataset_id not in known_datasets:
        errors.append(
            FieldError(field="dataset_id", message=f"unknown dataset {request.dataset_id}")
        )
    if request.policy_id not in known_policies:
        errors.append(FieldError(field="policy_id", message=f"unknown policy {request.policy_id}"))
    if request.baseline_policy_id is not None and request.baseline_policy_id not in known_policies:
        errors.append(
            FieldError(
                field="baseline_policy_id",
                message=f"unknown policy {request.baseline_policy_id}",
            )
        )
    return errors


class SimulationError(BaseModel):
    type: str
    reason: str


class ResultFileResource(BaseModel):
    name: str
    uri: str
    sha256: str
    rows: int


class Timings(BaseModel):
    load_seconds: float
    calculation_seconds: float
    write_seconds: float
    total_seconds: float


class SimulationResource(BaseModel):
    """A simulation as the API shows it."""

    id: str
    status: Status
    dataset_id: str
    policy_id: str
    baseline_policy_id: str | None
    year: int
    region: str
    key: str | None = Field(
        default=None,
        description="The content address: SHA-256 over the dataset's and policies' hashes, "
        "year, region, model and result-format versions.",
    )
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    error: SimulationError | None = None
    results: list[ResultFileResource] | None = None
    timings: Timings | None = None
    model_version: str | None = None
    dataset_sha256: str | None = None


class SimulationPage(Page[SimulationResource]):
    """One page of simulations, newest first; pass `next_cursor` back for the next page."""


def resource_from_row(row: Mapping[Any, Any]) -> SimulationResource:
    """Shape a `simulations` row for the API: error and results only when they exist."""
    error = (
        SimulationError(type=row["error_type"], reason=row["error_reason"] or "")
        if row["error_type"]
        else None
    )
    return SimulationResource(
        id=row["id"],
        status=Status(row["status"]),
        dataset_id=row["dataset_id"],
        policy_id=row["policy_id"],
        baseline_policy_id=row["baseline_policy_id"],
        year=row["year"],
        region=row["region"],
        key=row["key"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        cancelled_at=row["cancelled_at"],
        error=error,
        results=[ResultFileResource.model_validate(f) for f in row["results"]]
        if row["results"] is not None
        else None,
        timings=Timings.model_validate(row["timings"]) if row["timings"] is not None else None,
        model_version=row["model_version"],
        dataset_sha256=row["dataset_sha256"],
    )
