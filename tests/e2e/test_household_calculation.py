"""Household calculations through the gateway over real HTTP, with every process running."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.service.household_cases import HOUSEHOLDS, VARIABLES
from tests.stack import RunningStack

pytestmark = pytest.mark.slow

PATH = "/api/v1/households/calculate"


async def calculate_all(stack: RunningStack, key: str, bodies: list[dict[str, Any]]) -> list[Any]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        base_url=stack.gateway_url, headers=headers, timeout=120
    ) as client:
        answers = await asyncio.gather(*(client.post(PATH, json=body) for body in bodies))
    return list(answers)


def test_households_at_once_equal_each_alone_through_the_gateway(stack: RunningStack) -> None:
    key = stack.new_key("household calculator", "readonly")
    bodies = [{"household": h, "variables": VARIABLES} for h in HOUSEHOLDS.values()]
    together = asyncio.run(calculate_all(stack, key, bodies))
    # The variables in another order: not an answer the worker kept, so calculated alone.
    alone_bodies = [{**body, "variables": VARIABLES[::-1]} for body in bodies]
    alone = [asyncio.run(calculate_all(stack, key, [body]))[0] for body in alone_bodies]
    assert [a.status_code for a in together] == [200] * len(bodies), together[0].text
    assert [a.json() for a in together] == [a.json() for a in alone]
    couple = together[1].json()["household"]
    assert couple["tax_units"]["family"]["filing_status"] == {"2026": "JOINT"}


def test_an_unknown_variable_is_422_naming_it(stack: RunningStack) -> None:
    body = {"household": HOUSEHOLDS["single"], "variables": ["income_tax", "nope"]}
    (answer,) = asyncio.run(calculate_all(stack, stack.admin_key, [body]))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == ["variables[1]"]


def test_policyengine_v1_calculate_answers_what_the_fiscus_route_calculates(
    stack: RunningStack,
) -> None:
    """`POST /us/calculate` in v1's shape: the household's `null`s calculated, as the
    Fiscus route calculates them with no extra variables."""
    key = stack.new_key("household calculator", "readonly")
    household = {
        **HOUSEHOLDS["single"],
        "households": {
            "home": {
                "members": list(HOUSEHOLDS["single"]["people"]),
                "state_code": {"2026": "NY"},
                "household_net_income": {"2026": None},
            }
        },
    }
    policy = {"gov.irs.credits.ctc.amount.base[0].amount": {"2026-01-01.2100-12-31": 3000}}
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=stack.gateway_url, headers=headers, timeout=120) as client:
        v1 = client.post("/us/calculate", json={"household": household, "policy": policy})
        fiscus = client.post(PATH, json={"household": household, "policy": policy, "variables": []})
        refused = client.post(
            "/us/calculate",
            json={"household": {**household, "people": {"you": {"no_such_input": {"2026": 1}}}}},
        )
    assert v1.status_code == 200, v1.text
    assert fiscus.status_code == 200, fiscus.text
    assert v1.json() == {"status": "ok", "message": None, "result": fiscus.json()["household"]}
    net_income = v1.json()["result"]["households"]["home"]["household_net_income"]["2026"]
    assert isinstance(net_income, float)
    assert refused.status_code == 400, refused.text
    assert (refused.json()["status"], refused.json()["result"]) == ("error", None)
    assert refused.json()["errors"], refused.json()
