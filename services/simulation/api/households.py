"""`POST /api/v1/households/calculate`: one household, calculated by a warm households worker."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.simulation.adapters.household_calls import HouseholdCalls
from services.simulation.api.schemas import HouseholdCalculation, HouseholdCalculationRequest
from services.simulation.db import projections
from services.simulation.domain.households import structure_errors
from shared.principals import CallerDep
from shared.problems import FieldError, ProblemError, invalid, openapi_problem
from shared.service import ProcessDep

PATH = "/api/v1/households"

router = APIRouter(prefix=PATH, tags=["households"])


def _calls(request: Request) -> HouseholdCalls:
    calls: HouseholdCalls = request.app.state.household_calls
    return calls


@router.post(
    "/calculate",
    summary="Calculate a household's taxes and benefits",
    response_model=HouseholdCalculation,
    responses={
        422: openapi_problem("Malformed household, unknown variable or policy"),
        503: openapi_problem("The broker is unreachable"),
        504: openapi_problem("No households worker answered in time"),
    },
)
async def calculate_household(
    body: HouseholdCalculationRequest, request: Request, process: ProcessDep, caller: CallerDep
) -> HouseholdCalculation:
    # A malformed household is refused here, whether or not a worker is up to see it.
    malformed = structure_errors(body.household)
    if malformed:
        raise invalid([FieldError(field=e.field, message=e.message) for e in malformed])
    policy = body.policy
    if body.policy_id is not None:
        # A short transaction of its own: no connection is held while the worker calculates.
        async with process.database.unit_of_work() as uow:
            stored = await projections.find_policy(uow, body.policy_id)
        if stored is None:
            raise invalid([FieldError(field="policy_id", message="no such policy")])
        policy = stored.data
    reply = await _calls(request).call(
        {"household": body.household, "policy": policy, "variables": body.variables}
    )
    status = reply.get("status")
    if status == 200:
        return HouseholdCalculation(
            household=reply["household"], model_version=reply["model_version"]
        )
    errors = [FieldError.model_validate(e) for e in reply.get("errors", [])]
    if status == 422:
        raise invalid(errors)
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or "the calculation failed"
    raise ProblemError(500, "Internal Server Error", detail)
