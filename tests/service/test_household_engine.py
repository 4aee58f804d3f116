"""Household calculations on real policyengine-us: batched equals alone equals direct."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from services.simulation.domain.engine import PopulationEngine
from services.simulation.domain.household_engine import (
    HouseholdEngine,
    HouseholdOutcome,
    HouseholdRequest,
)
from services.simulation.domain.households import InvalidField, batch_key, completed
from tests.service.household_cases import (
    CTC_REFORM,
    HOUSEHOLDS,
    SINGLE,
    VARIABLES,
    assert_equals_direct,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine(population_engine: PopulationEngine) -> HouseholdEngine:
    return HouseholdEngine(population_engine)


def requests() -> list[HouseholdRequest]:
    return [HouseholdRequest(copy.deepcopy(h), list(VARIABLES)) for h in HOUSEHOLDS.values()]


def answers(outcomes: list[HouseholdOutcome]) -> list[dict[str, Any]]:
    found = []
    for outcome in outcomes:
        assert outcome.household is not None, outcome.errors
        found.append(outcome.household)
    return found


def test_the_cases_are_batched_together() -> None:
    keys = [batch_key(completed(h, VARIABLES), i) for i, h in enumerate(HOUSEHOLDS.values())]
    # single, couple_with_kids, single_parent and high_earner share one simulation.
    assert len(set(keys)) == 4


@pytest.mark.parametrize("policy", [None, CTC_REFORM], ids=["baseline", "ctc-reform"])
def test_batched_results_equal_each_household_alone(
    engine: HouseholdEngine, policy: dict[str, Any] | None
) -> None:
    batched = answers(engine.calculate(requests(), policy))
    alone = [answers(engine.calculate([r], policy))[0] for r in requests()]
    assert batched == alone
    couple = batched[1]
    # Values by period, as asked: the enum by name, SNAP for the month asked.
    assert couple["tax_units"]["family"]["filing_status"] == {"2026": "JOINT"}
    assert set(batched[6]["spm_units"]["unit"]["snap"]) == {"2025-01", "2025"}
    assert isinstance(couple["households"]["home"]["household_net_income"]["2026"], float)


def test_results_equal_direct_policyengine_us(engine: HouseholdEngine) -> None:
    batched = answers(engine.calculate(requests(), None))
    compared = sum(
        assert_equals_direct(asked, answer)
        for asked, answer in zip(HOUSEHOLDS.values(), batched, strict=True)
    )
    assert compared > 40


def test_reformed_results_equal_direct_policyengine_us(engine: HouseholdEngine) -> None:
    couple = HOUSEHOLDS["couple_with_kids"]
    batch = [HouseholdRequest(copy.deepcopy(h), VARIABLES) for h in HOUSEHOLDS.values()]
    reformed = answers(engine.calculate(batch, CTC_REFORM))[1]
    baseline = answers(engine.calculate(batch, None))[1]
    assert assert_equals_direct(couple, reformed, CTC_REFORM) >= len(VARIABLES)
    ctc = reformed["tax_units"]["family"]["ctc"]["2026"]
    assert ctc > baseline["tax_units"]["family"]["ctc"]["2026"]


def test_defaults_when_no_variables_are_named(engine: HouseholdEngine) -> None:
    (outcome,) = engine.calculate([HouseholdRequest(copy.deepcopy(SINGLE))], None)
    assert outcome.household is not None
    assert "household_net_income" in outcome.household["households"]["home"]
    assert "income_tax" in outcome.household["tax_units"]["tax_unit"]
    assert outcome.household["tax_units"]["tax_unit"]["members"] == ["you"]


def test_bad_households_fail_alone_and_name_the_field(engine: HouseholdEngine) -> None:
    bad: list[tuple[dict[str, Any], list[str], str]] = [
        ({**SINGLE, "people": {"you": {"agee": {"2026": 3}}}}, [], "household.people.you.agee"),
        (SINGLE, ["household_net_income", "not_a_variable"], "variables[1]"),
        (
            {**SINGLE, "households": {"home": {"members": ["you", "ghost"]}}},
            [],
            "household.households.home.members[1]",
        ),
        ({**SINGLE, "people": {"you": {"age": {"2026-13": 3}}}}, [], "household.people.you.age"),
        ({**SINGLE, "people": {"you": {"age": {"2026": "old"}}}}, [], "household.people.you.age"),
        ({**SINGLE, "people": {"you": {"state_code": {"2026": "TX"}}}}, [], "household.people"),
        ({"people": {}}, [], "household.people"),
    ]
    good = HouseholdRequest(copy.deepcopy(SINGLE), ["household_net_income"])
    outcomes = engine.calculate(
        [good, *(HouseholdRequest(copy.deepcopy(h), v or None) for h, v, _ in bad), good], None
    )
    assert outcomes[0].household is not None and outcomes[0] == outcomes[-1]
    for (_, _, field), outcome in zip(bad, outcomes[1:-1], strict=True):
        assert outcome.status == 422, outcome
        assert outcome.errors and outcome.errors[0].field.startswith(field), outcome.errors


def test_an_invalid_reform_is_refused(engine: HouseholdEngine) -> None:
    (outcome,) = engine.calculate(
        [HouseholdRequest(copy.deepcopy(SINGLE))], {"gov.no.such.parameter": {"2026": 1}}
    )
    assert outcome.status == 422
    assert outcome.errors[0] == InvalidField("policy", outcome.errors[0].message)


def test_axes_give_each_instance_its_values_along_the_axis(engine: HouseholdEngine) -> None:
    """As v1: with `axes`, each value is the instance's list over the axis points, in
    policyengine-core's layout (every instance once per point)."""
    from tests.direct_policyengine import direct_household

    asked = {
        "people": {"you": {"age": {"2026": 35}}, "kid": {"age": {"2026": 4}}},
        "tax_units": {"tu": {"members": ["you", "kid"]}},
        "households": {"home": {"members": ["you", "kid"], "state_code": {"2026": "CA"}}},
        "axes": [
            [{"name": "employment_income", "period": "2026", "min": 0, "max": 80_000, "count": 5}]
        ],
    }
    variables = ["household_net_income", "employment_income", "eitc"]
    (outcome,) = engine.calculate([HouseholdRequest(copy.deepcopy(asked), variables)], None)
    assert outcome.household is not None, outcome.errors
    people = outcome.household["people"]
    assert people["you"]["employment_income"]["2026"] == [0, 20_000, 40_000, 60_000, 80_000]
    assert people["kid"]["employment_income"]["2026"] == [0] * 5
    direct = direct_household(copy.deepcopy(asked))
    net = direct.calculate("household_net_income", "2026").reshape((-1, 1)).T[0].tolist()
    assert outcome.household["households"]["home"]["household_net_income"]["2026"] == net
    eitc = outcome.household["tax_units"]["tu"]["eitc"]["2026"]
    assert eitc == direct.calculate("eitc", "2026").tolist()
    assert len(set(eitc)) > 1
