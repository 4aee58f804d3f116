"""A simulation's life: what may be requested, how its status moves, how it reads.

queued ──▶ running ──▶ completed
   │          │ ▲
   │          └─┘ (redelivered after a worker died)
   ├──────────┴──▶ failed
   └──────────┴──▶ cancelled (on request; a late result is discarded)
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from contracts.events.simulation.v1 import SimulationRequested
from shared.pagination import Page
from shared.problems import FieldError
from shared.states import STATE_CODES

FIRST_YEAR = 2023
LAST_YEAR = 2035
MAX_YEARS = LAST_YEAR - FIRST_YEAR + 1
MAX_OUTPUTS = 32
# policyengine-us variable names: lower-case words joined by underscores.
OUTPUT_NAME = re.compile(r"[a-z][a-z0-9_]{0,127}")
ID_MAX_LENGTH = 64
NATIONAL = "us"


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


def is_second_copy(*, running: bool, redelivered: bool, started_here: bool) -> bool:
    """Whether a partition's request is a second copy of one being computed now.

    A relay that stopped between publishing an event and marking it sent leaves it
    for another relay to publish again, so a partition's request can arrive twice.
    While the partition is running, a copy delivered for the first time is that
    second one: the original is held, unacknowledged, by the worker computing it, and
    comes back redelivered if that worker dies. A running partition is started again
    only by a redelivery, or by the worker that started it retrying after an outage.
    """
    return running and not redelivered and not started_here


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
    year: int | None = Field(
        default=None,
        ge=FIRST_YEAR,
        le=LAST_YEAR,
        description="The year simulated; with `years`, its first year.",
    )
    years: list[int] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_YEARS,
        validate_default=True,
        description=f"A budget window: years in increasing order, {FIRST_YEAR} to {LAST_YEAR}.",
    )
    region: str = Field(
        default=NATIONAL,
        description="`us` for the whole dataset, or a state's postal code (`CA`): only that "
        "state's households are simulated.",
    )
    outputs: list[str] = Field(
        default=[],
        max_length=MAX_OUTPUTS,
        description="Extra policyengine-us variables to store per household and policy (a "
        "person's also per person), for custom aggregates and the raw results; "
        "`cliff_gap`, `is_on_cliff` and `is_adult` together add the report's `cliff_impact`. "
        "Names are checked against the model by the worker: an unknown one fails the "
        "simulation, naming it.",
    )

    @field_validator("outputs")
    @classmethod
    def _outputs_are_variable_names(cls, outputs: list[str]) -> list[str]:
        malformed = [name for name in outputs if not OUTPUT_NAME.fullmatch(name)]
        if malformed:
            raise ValueError(f"not policyengine-us variable names: {malformed}")
        return list(dict.fromkeys(outputs))

    @field_validator("years")
    @classmethod
    def _years_in_order_and_range(
        cls, years: list[int] | None, info: ValidationInfo
    ) -> list[int] | None:
        year = info.data.get("year")
        if years is None:
            if year is None and "year" not in info.data:
                return None  # `year` itself was invalid: that error is the one to show
            if year is None:
                raise ValueError("give `year` or `years`")
            return None
        if year is not None and year != years[0]:
            raise ValueError("`year`, when given, must be the first of `years`")
        outside = [y for y in years if not FIRST_YEAR <= y <= LAST_YEAR]
        if outside:
            raise ValueError(f"years must lie in {FIRST_YEAR}..{LAST_YEAR}, not {outside}")
        if any(later <= earlier for earlier, later in itertools.pairwise(years)):
            raise ValueError("years must be increasing, each year once")
        return years

    @field_validator("region")
    @classmethod
    def _known_region(cls, region: str) -> str:
        if region.lower() == NATIONAL:
            return NATIONAL
        if region.upper() in STATE_CODES:
            return region.upper()
        raise ValueError(f"region must be `us` or a state's postal code, not {region!r}")

    @property
    def first_year(self) -> int:
        return self.years[0] if self.years else self.year  # type: ignore[return-value]

    @property
    def window(self) -> list[int]:
        """Every year simulated, first year first."""
        return list(self.years) if self.years else [self.first_year]


def requested_event(simulation_id: str, request: SimulationRequest) -> SimulationRequested:
    """The `simulation.requested` payload announcing an accepted request."""
    return SimulationRequested(
        simulation_id=simulation_id,
        dataset_id=request.dataset_id,
        policy_id=request.policy_id,
        baseline_policy_id=request.baseline_policy_id,
        year=request.first_year,
        years=request.window,
        region=request.region,
        outputs=request.outputs,
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
    year: int | None = None
    partition: int | None = None


class Progress(BaseModel):
    """How far a running simulation is; the estimate extrapolates the households done."""

    partitions_done: int
    partitions_total: int
    households_done: int
    households_total: int
    elapsed_seconds: float
    estimated_seconds_left: float | None = None


def estimated_seconds_left(elapsed: float, done: int, total: int) -> float | None:
    """Time left at the rate so far; None before anything is done."""
    if done <= 0:
        return None
    return max(0.0, elapsed * (total - done) / done)


def progress_of(row: Mapping[Any, Any], now: datetime) -> Progress | None:
    """The progress of a planned simulation (None before a worker planned it)."""
    if row.get("partitions_total") is None or row["started_at"] is None:
        return None
    return progress_at(
        Status(row["status"]),
        started_at=row["started_at"],
        ended_at=row["completed_at"] or row["cancelled_at"],
        partitions=(row["partitions_done"], row["partitions_total"]),
        households=(row["households_done"], row["households_total"]),
        now=now,
    )


def progress_at(
    status: Status,
    *,
    started_at: datetime,
    ended_at: datetime | None,
    partitions: tuple[int, int],
    households: tuple[int, int],
    now: datetime,
) -> Progress:
    """A planned simulation's progress, from `(done, total)` partitions and households."""
    elapsed = max(0.0, ((ended_at or now) - started_at).total_seconds())
    done, total = households
    return Progress(
        partitions_done=partitions[0],
        partitions_total=partitions[1],
        households_done=done,
        households_total=total,
        elapsed_seconds=round(elapsed, 3),
        estimated_seconds_left=None
        if status in FINISHED
        else estimated_seconds_left(elapsed, done, total),
    )


class Timings(BaseModel):
    load_seconds: float
    calculation_seconds: float
    write_seconds: float
    total_seconds: float
    reform_paths: dict[str, int] = Field(
        default_factory=dict,
        description="Partitions by how their reform arm was computed: `reduced` (only the "
        "variables the reform changes; every other value taken from the baseline), `full` "
        "(every variable), `none` (the reform is the baseline).",
    )
    full_path_reasons: list[str] = Field(
        default_factory=list,
        description="Why any reform arm was computed in full: `structural reform`, "
        "`behavioural responses read the baseline simulation`, `full computation requested`.",
    )
    baselines_reused: int = Field(
        default=0,
        description="Partitions whose baseline values came from an earlier run of the same "
        "population, year, baseline policy and model, not calculated again.",
    )


def paths_of(partition_timings: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A simulation's reform paths, full-path reasons and reused baselines, from its
    partitions' timings (those recorded before the reduced path count as full)."""
    paths: dict[str, int] = {}
    reasons: set[str] = set()
    reused = 0
    for timings in partition_timings:
        path = timings.get("reform_path") or "full"
        paths[path] = paths.get(path, 0) + 1
        if path == "full" and timings.get("reform_path_reason"):
            reasons.add(timings["reform_path_reason"])
        reused += timings.get("baseline_source", "calculated") != "calculated"
    return {
        "reform_paths": paths,
        "full_path_reasons": sorted(reasons),
        "baselines_reused": reused,
    }


class SimulationResource(BaseModel):
    """A simulation as the API shows it."""

    id: str
    status: Status
    dataset_id: str
    policy_id: str
    baseline_policy_id: str | None
    year: int
    years: list[int] = Field(description="Every year simulated, first year first.")
    region: str
    key: str | None = Field(
        default=None,
        description="The content address: SHA-256 over the dataset's and policies' hashes, "
        "years, region, model and result-format versions.",
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
    progress: Progress | None = Field(
        default=None, description="Partitions and households done, once a worker planned it."
    )
    outputs: list[str] = Field(default=[], description="Extra variables stored per household.")


class SimulationPage(Page[SimulationResource]):
    """One page of simulations, newest first; pass `next_cursor` back for the next page."""


def resource_from_row(row: Mapping[Any, Any], now: datetime | None = None) -> SimulationResource:
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
        years=row.get("years") or [row["year"]],
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
        progress=progress_of(row, now or datetime.now(UTC)),
        outputs=row.get("outputs") or [],
    )
