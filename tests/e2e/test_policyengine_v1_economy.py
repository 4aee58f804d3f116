"""PolicyEngine API v1's economy route, polled as a v1 client polls it, on the whole stack.

The first call submits the simulation and answers `computing`; later calls answer from
its state until `ok`, whose `result` must be the report Fiscus's own route gives for
that simulation. A later call is answered by the same simulation.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from contracts.results.v1 import CLIFF_OUTPUTS
from tests.reforms import CTC_REFORM
from tests.stack import RunningStack

pytestmark = pytest.mark.slow

YEAR = 2026


def user_client(stack: RunningStack) -> httpx.Client:
    headers = {"Authorization": f"Bearer {stack.new_key('v1 client', 'user')}"}
    return httpx.Client(base_url=stack.gateway_url, headers=headers, timeout=60)


def dataset_and_policy(client: httpx.Client, households: int, seed: int) -> tuple[str, str]:
    """A small synthetic dataset, and the CTC reform stored through v1's policy route."""
    dataset = client.post(
        "/api/v1/datasets/synthetic",
        json={"name": f"v1 {seed}", "households": households, "seed": seed, "year": YEAR},
    )
    assert dataset.status_code == 201, dataset.text
    stored = client.post("/us/policy", json={"data": CTC_REFORM, "label": "CTC 3000"})
    assert stored.status_code in (200, 201), stored.text
    return dataset.json()["id"], stored.json()["result"]["policy_id"]


def poll(client: httpx.Client, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every answer until one is not `computing` (at most about five minutes)."""
    answers: list[dict[str, Any]] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        answer = client.get(path, params=params)
        assert answer.status_code == 200, answer.text
        answers.append(answer.json())
        if answers[-1]["status"] != "computing":
            return answers
        time.sleep(1.0)
    raise AssertionError(f"still computing after five minutes: {answers[-1]}")


def test_a_v1_economy_call_is_submitted_then_answers_fiscuss_report(stack: RunningStack) -> None:
    with user_client(stack) as client:
        dataset_id, policy_id = dataset_and_policy(client, households=40, seed=21)
        path = f"/us/economy/{policy_id}/over/2"
        params = {"region": "us", "time_period": str(YEAR), "dataset": dataset_id}

        answers = poll(client, path, params)
        assert answers[0]["status"] == "computing" and answers[0]["result"] is None
        final = answers[-1]
        assert final["status"] == "ok", final
        simulation_id = final["simulation_id"]
        assert {a["simulation_id"] for a in answers} == {simulation_id}
        report = client.get(f"/api/v1/simulations/{simulation_id}/report")
        assert report.status_code == 200, report.text
        assert final["result"] == report.json()["report"]
        assert final["result"]["budget"]["budgetary_impact"] < 0

        again = client.get(path, params=params).json()
        assert (again["status"], again["simulation_id"]) == ("ok", simulation_id)
        simulation = client.get(f"/api/v1/simulations/{simulation_id}").json()
        assert (simulation["policy_id"], simulation["baseline_policy_id"]) == (policy_id, None)
        assert (simulation["year"], simulation["region"]) == (YEAR, "us")

        refusals = (
            ({"region": "atlantis"}, "region"),
            ({"time_period": "soon"}, "year"),
            ({"target": "wealth"}, "target"),
        )
        for bad, word in refusals:
            refused = client.get(path, params={**params, **bad})
            assert refused.status_code == 400, refused.text
            assert refused.json()["status"] == "error" and word in refused.json()["message"]
        unnamed = client.get(path, params={"region": "us", "time_period": str(YEAR)})
        assert unnamed.status_code == 400 and "dataset" in unnamed.json()["message"]


def test_a_v1_cliff_call_answers_the_reports_cliff_impact(stack: RunningStack) -> None:
    with user_client(stack) as client:
        dataset_id, policy_id = dataset_and_policy(client, households=6, seed=23)
        path = f"/us/economy/{policy_id}/over/2"
        params = {"region": "us", "time_period": str(YEAR), "dataset": dataset_id}

        answers = poll(client, path, {**params, "target": "cliff"})
        final = answers[-1]
        assert final["status"] == "ok", final
        simulation = client.get(f"/api/v1/simulations/{final['simulation_id']}").json()
        assert simulation["outputs"] == list(CLIFF_OUTPUTS)
        report = client.get(f"/api/v1/simulations/{final['simulation_id']}/report").json()
        assert final["result"] == report["report"]["cliff_impact"]
        for policy in ("baseline", "reform"):
            assert set(final["result"][policy]) == {"cliff_gap", "cliff_share"}
            assert final["result"][policy]["cliff_gap"] >= 0

        # The general target is another simulation: one without the cliff outputs.
        general = client.get(path, params=params).json()
        assert general["simulation_id"] != final["simulation_id"]


def test_a_v1_budget_window_answers_fiscuss_budget_window_in_v1s_keys(
    stack: RunningStack,
) -> None:
    with user_client(stack) as client:
        dataset_id, policy_id = dataset_and_policy(client, households=30, seed=22)
        path = f"/us/economy/{policy_id}/over/2/budget-window"
        params = {
            "region": "us",
            "start_year": str(YEAR),
            "window_size": "2",
            "dataset": dataset_id,
        }
        answers = poll(client, path, params)
        assert answers[0]["status"] == "computing"
        assert answers[0]["computing_years"] == [str(YEAR), str(YEAR + 1)]
        final = answers[-1]
        assert final["status"] == "ok", final
        assert (final["progress"], final["completed_years"]) == (100, [str(YEAR), str(YEAR + 1)])
        report = client.get(f"/api/v1/simulations/{final['simulation_id']}/report").json()
        window = report["budget_window"]
        result = final["result"]
        assert (result["kind"], result["startYear"], result["endYear"], result["windowSize"]) == (
            "budgetWindow",
            str(YEAR),
            str(YEAR + 1),
            2,
        )
        for v1, fiscus in zip(
            [*result["annualImpacts"], result["totals"]],
            [*window["years"], {**window["total"], "year": "Total"}],
            strict=True,
        ):
            assert v1["year"] == str(fiscus["year"])
            assert v1["budgetaryImpact"] == fiscus["budgetary_impact"]
            assert v1["taxRevenueImpact"] == fiscus["tax_revenue_impact"]
            assert v1["stateTaxRevenueImpact"] == fiscus["state_tax_revenue_impact"]
            assert v1["federalTaxRevenueImpact"] == (
                fiscus["tax_revenue_impact"] - fiscus["state_tax_revenue_impact"]
            )
            assert v1["benefitSpendingImpact"] == fiscus["benefit_spending_impact"]

        too_long = client.get(path, params={**params, "window_size": "40"})
        assert too_long.status_code == 400, too_long.text
        assert too_long.json()["status"] == "error"
