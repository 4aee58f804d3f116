"""PolicyEngine API v1's society-wide impact route, polled as v1 clients poll it.

`GET /us/economy/{policy_id}/over/{baseline_policy_id}?region=&time_period=&dataset=`
answers `{status: computing | ok | error, message, result}`. Each call looks for the
caller's simulation of that request (the same dataset, policies, year and region, not
failed or cancelled) and answers from its state; when there is none, the call submits
it, against the caller's daily simulation quota as `POST /api/v1/simulations` is. Once
the simulation is complete, `result` is its report, which already uses v1's economy
output keys (README, The impact report). With `target=cliff` the simulation also asks
for the cliff outputs and `result` is the report's `cliff_impact`, v1's cliff answer.

What v1 names differently: `dataset` is a Fiscus dataset id (v1's `enhanced_cps` and
`default` mean the deployment's `FISCUS_V1_DEFAULT_DATASET_ID`); policy ids are Fiscus's,
and v1's current-law id `2` as the baseline means current law.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from contracts.results.v1 import CLIFF_OUTPUTS
from services.gateway.api.guard import CurrentPrincipal, PublicRoute
from services.gateway.api.policyengine_v1 import COUNTRY, internal, v1_error
from services.gateway.api.simulation_quota import simulation_quota
from services.gateway.api.steps import limited
from services.gateway.domain.auth import Principal
from shared.settings import Settings
from shared.states import STATE_CODES

log = logging.getLogger(__name__)

CURRENT_LAW_ID = "2"
DEFAULT_DATASETS = ("default", "enhanced_cps", "cps")
IN_PROGRESS = ("queued", "running")
REUSABLE = (*IN_PROGRESS, "completed")
CLIFF = "cliff"
TARGETS = ("general", CLIFF)

router = APIRouter(
    prefix=f"/{COUNTRY}", tags=["policyengine-v1"], route_class=PublicRoute, include_in_schema=False
)


def v1_answer(
    status: str, result: Any = None, message: str | None = None, **more: Any
) -> JSONResponse:
    return JSONResponse({"status": status, "message": message, "result": result, **more})


def v1_bad_request(message: str) -> JSONResponse:
    return JSONResponse({"status": "error", "message": message, "result": None}, 400)


def fiscus_region(region: str) -> str | None:
    """Fiscus's region for v1's: `us`, or a state as `ca` or `state/ca`; None if neither."""
    name = region.strip().lower().removeprefix("state/")
    if name == "us":
        return "us"
    return name.upper() if name.upper() in STATE_CODES else None


Region = Annotated[str, Query(max_length=64)]
Dataset = Annotated[str | None, Query(max_length=64)]
Target = Annotated[str, Query(max_length=16)]


@router.get(
    "/economy/{policy_id}/over/{baseline_policy_id}",
    summary="PolicyEngine API v1: a reform's society-wide impact, submitted then polled",
)
async def economy(
    policy_id: str,
    baseline_policy_id: str,
    request: Request,
    principal: CurrentPrincipal,
    region: Region = "us",
    time_period: Annotated[str, Query(max_length=16)] = "",
    dataset: Dataset = None,
    target: Target = "general",
) -> JSONResponse:
    if target not in TARGETS:
        return v1_bad_request("target must be `general` or `cliff`")
    if not is_year(time_period):
        return v1_bad_request("time_period must be a year, such as 2026")
    wanted = _request(request, policy_id, baseline_policy_id, region, dataset)
    if isinstance(wanted, JSONResponse):
        return wanted
    wanted["year"] = int(time_period)
    if target == CLIFF:
        # v1's cliff target is a run of its own: here, the same simulation with the cliff
        # outputs, whose report carries `cliff_impact` (v1's `{baseline, reform}` result).
        wanted["outputs"] = list(CLIFF_OUTPUTS)
    simulation = await _found_or_submitted(request, principal, wanted)
    if isinstance(simulation, JSONResponse):
        return simulation
    return await _state(request, principal, simulation, "cliff_impact" if target == CLIFF else None)


@router.get(
    "/economy/{policy_id}/over/{baseline_policy_id}/budget-window",
    summary="PolicyEngine API v1: a reform's budget over a window of years",
)
async def budget_window(
    policy_id: str,
    baseline_policy_id: str,
    request: Request,
    principal: CurrentPrincipal,
    region: Region = "us",
    start_year: Annotated[str, Query(max_length=16)] = "",
    window_size: Annotated[int, Query(ge=1, le=75)] = 10,
    dataset: Dataset = None,
    target: Target = "general",
) -> JSONResponse:
    if target != "general":
        return v1_bad_request("Budget-window calculations only support target=general")
    if not is_year(start_year):
        return v1_bad_request("start_year must be a year, such as 2026")
    wanted = _request(request, policy_id, baseline_policy_id, region, dataset)
    if isinstance(wanted, JSONResponse):
        return wanted
    years = [int(start_year) + offset for offset in range(window_size)]
    simulation = await _found_or_submitted(request, principal, {**wanted, "years": years})
    if isinstance(simulation, JSONResponse):
        return simulation
    return await _window_state(request, principal, simulation, years)


def is_year(text: str) -> bool:
    return text.isdigit() and len(text) == 4


def _request(
    request: Request, policy_id: str, baseline_policy_id: str, region: str, dataset: str | None
) -> dict[str, Any] | JSONResponse:
    """The Fiscus simulation request a v1 call names, but its year or years."""
    settings: Settings = request.app.state.settings
    place = fiscus_region(region)
    if place is None:
        return v1_bad_request(f"region {region!r} is not `us` or a US state (such as `ca`)")
    dataset_id = dataset if dataset and dataset not in DEFAULT_DATASETS else None
    dataset_id = dataset_id or settings.v1_default_dataset_id
    if dataset_id is None:
        return v1_bad_request(
            "name a Fiscus dataset with `dataset=<dataset id>`: this deployment has no default"
        )
    wanted: dict[str, Any] = {"dataset_id": dataset_id, "policy_id": policy_id, "region": place}
    if baseline_policy_id != CURRENT_LAW_ID:
        wanted["baseline_policy_id"] = baseline_policy_id
    return wanted


async def _found_or_submitted(
    request: Request, principal: Principal, wanted: dict[str, Any]
) -> dict[str, Any] | JSONResponse:
    simulation = await _existing(request, principal, wanted)
    if simulation is None:
        return await _submit(request, principal, wanted)
    return simulation


async def _existing(
    request: Request, principal: Principal, wanted: dict[str, Any]
) -> dict[str, Any] | None:
    """The caller's newest simulation of this request that is not failed or cancelled."""
    years = wanted.get("years") or [wanted["year"]]
    params = {"dataset_id": wanted["dataset_id"], "policy_id": wanted["policy_id"]}
    params["year"] = years[0]
    answer = await internal(
        request,
        principal,
        "simulation",
        "GET",
        "/api/v1/simulations",
        params={**params, "limit": 100},
    )
    if answer.status_code != 200:
        return None
    for item in answer.json()["items"]:
        same = (
            item.get("baseline_policy_id") == wanted.get("baseline_policy_id")
            and item.get("region") == wanted["region"]
            and item.get("years", years) == years
            and (item.get("outputs") or []) == wanted.get("outputs", [])
        )
        if same and item["status"] in REUSABLE:
            found: dict[str, Any] = item
            return found
    return None


async def _submit(
    request: Request, principal: Principal, wanted: dict[str, Any]
) -> dict[str, Any] | JSONResponse:
    """Submit the simulation, within the caller's daily quota of new simulations."""
    settings: Settings = request.app.state.settings
    quota = simulation_quota(request.app.state.limiter, principal, settings)
    if quota is not None and (await limited(quota.state())).remaining < 1:
        return JSONResponse({"status": "error", "message": quota.refusal, "result": None}, 429)
    answer = await internal(
        request, principal, "simulation", "POST", "/api/v1/simulations", json=wanted
    )
    if answer.status_code not in (200, 202):
        return v1_error(answer)
    if answer.status_code == 202 and quota is not None:
        await quota.count(1)
    created: dict[str, Any] = answer.json()
    return created


async def _state(
    request: Request, principal: Principal, simulation: dict[str, Any], section: str | None
) -> JSONResponse:
    """v1's answer for a simulation: computing, error, or its report (or one `section`)."""
    status, simulation_id = simulation["status"], simulation["id"]
    extra = {"simulation_id": simulation_id}
    if status in IN_PROGRESS:
        progress = simulation.get("progress") or {}
        left = progress.get("estimated_seconds_left")
        return v1_answer("computing", **extra, **({"average_time": left} if left else {}))
    if status != "completed":
        return v1_answer("error", message=failure_of(simulation), **extra)
    report = await _report(request, principal, simulation_id)
    if report is None:
        return v1_answer("computing", **extra)
    if isinstance(report, JSONResponse):
        return report
    result = report["report"] if section is None else report["report"].get(section)
    return v1_answer("ok", result, **extra)


def failure_of(simulation: dict[str, Any]) -> str:
    """Why a simulation did not complete, as v1's error message says it."""
    status, error = simulation["status"], simulation.get("error") or {}
    return f"the simulation {status}: {error.get('reason') or status}"


async def _report(
    request: Request, principal: Principal, simulation_id: str
) -> dict[str, Any] | JSONResponse | None:
    """A completed simulation's report; None while it is still being built."""
    report = await internal(
        request, principal, "aggregation", "GET", f"/api/v1/simulations/{simulation_id}/report"
    )
    if report.status_code == 404:
        return None
    if report.status_code != 200:
        return v1_error(report)
    body: dict[str, Any] = report.json()
    return body


async def _window_state(
    request: Request, principal: Principal, simulation: dict[str, Any], years: list[int]
) -> JSONResponse:
    """v1's budget-window answer: progress while computing, then the annual impacts."""
    named = [str(year) for year in years]
    status, simulation_id = simulation["status"], simulation["id"]
    answer: dict[str, Any] = {
        "status": "computing",
        "message": None,
        "result": None,
        "progress": 0,
        "completed_years": [],
        "computing_years": named,
        "queued_years": [],
        "error": None,
        "simulation_id": simulation_id,
    }
    if status in IN_PROGRESS:
        progress = simulation.get("progress") or {}
        total = progress.get("partitions_total") or 0
        done = progress.get("partitions_done") or 0
        answer["progress"] = int(100 * done / total) if total else 0
        answer["message"] = f"{done} of {total} partitions calculated"
        return JSONResponse(answer)
    if status != "completed":
        message = failure_of(simulation)
        return JSONResponse({**answer, "status": "error", "message": message, "error": message})
    report = await _report(request, principal, simulation_id)
    if report is None:
        return JSONResponse({**answer, "progress": 99, "message": "the report is being built"})
    if isinstance(report, JSONResponse):
        return report
    window = report["budget_window"]
    result = {
        "kind": "budgetWindow",
        "startYear": named[0],
        "endYear": named[-1],
        "windowSize": len(named),
        "annualImpacts": [v1_impacts(str(row["year"]), row) for row in window["years"]],
        "totals": v1_impacts("Total", window["total"]),
    }
    completed = {**answer, "status": "ok", "result": result, "progress": 100}
    return JSONResponse({**completed, "completed_years": named, "computing_years": []})


def v1_impacts(year: str, impacts: dict[str, Any]) -> dict[str, Any]:
    """One year (or the total) of Fiscus's budget window in v1's keys. Fiscus's tax revenue
    includes state income tax, as v1's does; v1's federal part is the rest."""
    tax, state = impacts["tax_revenue_impact"], impacts["state_tax_revenue_impact"]
    return {
        "year": year,
        "taxRevenueImpact": tax,
        "federalTaxRevenueImpact": tax - state,
        "stateTaxRevenueImpact": state,
        "benefitSpendingImpact": impacts["benefit_spending_impact"],
        "budgetaryImpact": impacts["budgetary_impact"],
    }
