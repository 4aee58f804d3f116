"""Varied households for the household calculation tests, and direct policyengine-us answers."""

from __future__ import annotations

import copy
from typing import Any

from tests.direct_policyengine import direct_household
from tests.reforms import CTC_REFORM

__all__ = ["CTC_REFORM"]


def adult(age: int, income: float = 0.0, year: str = "2026", **more: Any) -> dict[str, Any]:
    return {"age": {year: age}, "employment_income": {year: income}, **more}


def home(members: list[str], state: str, year: str = "2026") -> dict[str, Any]:
    return {"households": {"home": {"members": members, "state_code": {year: state}}}}


# Same inputs (age, employment_income, state_code for 2026): merged into one simulation.
SINGLE = {"people": {"you": adult(30, 28_000)}, **home(["you"], "TX")}
COUPLE_WITH_KIDS = {
    "people": {
        "mum": adult(38, 52_000),
        "dad": adult(40, 31_000),
        "kid1": adult(6),
        "kid2": adult(2),
    },
    "tax_units": {"family": {"members": ["mum", "dad", "kid1", "kid2"]}},
    "marital_units": {
        "parents": {"members": ["mum", "dad"]},
        "k1": {"members": ["kid1"]},
        "k2": {"members": ["kid2"]},
    },
    **home(["mum", "dad", "kid1", "kid2"], "NY"),
}
SINGLE_PARENT = {
    "people": {"parent": adult(29, 19_000), "child": adult(3)},
    **home(["parent", "child"], "CA"),
}
HIGH_EARNER = {"people": {"exec": adult(50, 750_000)}, **home(["exec"], "MA")}
# Other inputs: each calculated in a simulation of its own households.
RETIREES = {
    "people": {
        "ann": {"age": {"2026": 70}, "social_security": {"2026": 24_000}},
        "bob": {"age": {"2026": 72}, "social_security": {"2026": 18_000}},
    },
    **home(["ann", "bob"], "FL"),
}
SELF_EMPLOYED = {
    "people": {"sam": {"age": {"2026": 45}, "self_employment_income": {"2026": 85_000}}},
    **home(["sam"], "WA"),
}
# Another year, a monthly variable asked for by month, an enum, a value asked for by null.
EARLIER_YEAR = {
    "people": {
        "pat": {"age": {"2025": 35}, "employment_income": {"2025": 12_000}},
        "kid": {"age": {"2025": 8}},
    },
    "spm_units": {"unit": {"members": ["pat", "kid"], "snap": {"2025-01": None}}},
    "tax_units": {"unit": {"members": ["pat", "kid"], "filing_status": {"2025": None}}},
    "households": {"home": {"members": ["pat", "kid"], "state_code": {"2025": "GA"}}},
}

HOUSEHOLDS: dict[str, dict[str, Any]] = {
    "single": SINGLE,
    "couple_with_kids": COUPLE_WITH_KIDS,
    "single_parent": SINGLE_PARENT,
    "high_earner": HIGH_EARNER,
    "retirees": RETIREES,
    "self_employed": SELF_EMPLOYED,
    "earlier_year": EARLIER_YEAR,
}

VARIABLES = ["household_net_income", "income_tax", "eitc", "ctc", "snap", "filing_status"]


def direct_value(simulation: Any, variable: str, period: str, index: int) -> Any:
    """What policyengine-us computes, as the API returns it (enum names, Python numbers)."""
    from policyengine_core.enums import EnumArray

    values = simulation.calculate(variable, period)
    if isinstance(values, EnumArray):
        values = values.decode_to_str()
    return values.tolist()[index]


def assert_equals_direct(
    asked: dict[str, Any], answer: dict[str, Any], reform: dict[str, Any] | None = None
) -> int:
    """Every value in `answer` that `asked` lacked equals a direct policyengine-us Simulation's
    (under `reform`, PolicyEngine's reform format, if given).

    The answer's group instances the household left out are policyengine-core's own
    (one holding everyone, named by the entity). Returns the number of values compared.
    """
    simulation = direct_household(copy.deepcopy(asked), reform)
    compared = 0
    for plural, instances in answer.items():
        ids = list(simulation.populations[_entity_key(simulation, plural)].ids)
        for instance_id, instance in instances.items():
            for variable, values in instance.items():
                if variable == "members":
                    continue
                for period, value in values.items():
                    given = asked.get(plural, {}).get(instance_id, {}).get(variable, {})
                    if given.get(period) is not None:
                        assert value == given[period]
                        continue
                    expected = direct_value(simulation, variable, period, ids.index(instance_id))
                    assert value == expected, (plural, instance_id, variable, period)
                    compared += 1
    return compared


def _entity_key(simulation: Any, plural: str) -> str:
    for entity in simulation.tax_benefit_system.entities:
        if entity.plural == plural:
            key: str = entity.key
            return key
    raise KeyError(plural)
