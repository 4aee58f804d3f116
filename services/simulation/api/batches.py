"""`POST /api/v1/simulations/batch`: many simulations in one request.

Every item is checked first (its fields, then its dataset and policies), and errors
are reported at once, each at `simulations[<index>].<field>`; then nothing is
submitted. A valid batch is admitted in one transaction, its items in order, each
exactly as `POST /api/v1/simulations` would: a new simulation (202) or the existing
equal one (200), an earlier item of the same batch included.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import ValidationError

from services.simulation.api.routes import PATH, AdmissionsDep
from services.simulation.api.schemas import (
    BatchItem,
    BatchResult,
    SimulationBatch,
    SimulationRequest,
)
from services.simulation.domain.simulations import resource_from_row
from shared.principals import WritingCallerDep
from shared.problems import FieldError, invalid, openapi_problem
from shared.service import ProcessDep

# How many simulations the batch created, for the gateway's daily quota.
ACCEPTED_HEADER = "Fiscus-Simulations-Accepted"

router = APIRouter(prefix=PATH, tags=["simulations"])


def _field(index: int, location: tuple[int | str, ...]) -> str:
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location)
    return f"simulations[{index}]{path}"


def checked_items(batch: SimulationBatch) -> list[SimulationRequest]:
    """Every item as a request; a 422 problem listing every invalid field otherwise."""
    requests: list[SimulationRequest] = []
    errors: list[FieldError] = []
    for index, item in enumerate(batch.simulations):
        try:
            requests.append(SimulationRequest.model_validate(item))
        except ValidationError as exc:
            errors.extend(
                FieldError(field=_field(index, tuple(e["loc"])), message=e["msg"])
                for e in exc.errors()
            )
    if errors:
        raise invalid(errors)
    return requests


@router.post(
    "/batch",
    status_code=202,
    summary="Request many simulations at once",
    description="Each item runs and dedupes as if submitted alone; the answer gives each "
    "item's simulation and whether it is new (202) or an existing equal one (200). An "
    "invalid item refuses the whole batch (422), naming `simulations[<index>].<field>`.",
    responses={
        200: {"model": BatchResult, "description": "Every item had an equal simulation"},
        422: openapi_problem("Invalid items; `errors` names each at its index"),
    },
)
async def create_batch(
    batch: SimulationBatch,
    process: ProcessDep,
    admissions: AdmissionsDep,
    response: Response,
    caller: WritingCallerDep,
) -> BatchResult:
    requests = checked_items(batch)
    answers = await admissions.admit_when_projected(
        requests, caller, process.settings.projection_wait_seconds
    )
    missing = [
        FieldError(field=f"simulations[{index}].{e.field}", message=e.message)
        for index, answer in enumerate(answers)
        for e in answer.errors
    ]
    if missing:
        raise invalid(missing)
    items: list[BatchItem] = []
    for index, answer in enumerate(answers):
        assert answer.row is not None
        items.append(
            BatchItem(
                index=index,
                status=202 if answer.new else 200,
                simulation=resource_from_row(answer.row),
            )
        )
    accepted = sum(1 for item in items if item.status == 202)
    response.status_code = 202 if accepted else 200
    response.headers[ACCEPTED_HEADER] = str(accepted)
    return BatchResult(items=items, accepted=accepted, existing=len(items) - accepted)
