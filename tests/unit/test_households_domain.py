"""Household JSON checked, completed, merged for a batch and filled back (no policyengine-us)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from services.gateway.domain.auth import refusal
from services.gateway.domain.routing import owner_of
from services.simulation.domain.households import (
    DEFAULT_VARIABLES,
    InvalidHousehold,
    Wanted,
    batch_key,
    calculation_year,
    completed,
    filled,
    merged,
    structure_errors,
    wanted_values,
)

COUPLE: dict[str, Any] = {
    "people": {"a": {"age": {"2026": 40}}, "b": {"age": {"2026": 38}}},
    "tax_units": {"tu": {"members": ["a", "b"], "filing_status": {"2026": None}}},
    "households": {"h": {"members": ["a", "b"], "state_code": {"2026": "NY"}}},
}
ENTITY_OF = {"household_net_income": "households", "income_tax": "tax_units"}


def fields(household: Any) -> list[str]:
    return [error.field for error in structure_errors(household)]


def test_structure_errors_name_the_field() -> None:
    assert fields(COUPLE) == []
    assert fields([]) == ["household"]
    assert fields({"people": {}}) == ["household.people"]
    assert fields({**COUPLE, "pets": {}}) == ["household.pets"]
    assert fields({**COUPLE, "people": {"a": {"age": 40}, "b": {}}}) == ["household.people.a.age"]
    assert fields({**COUPLE, "people": {"a": {"age": {"soon": 40}}, "b": {}}}) == [
        "household.people.a.age.soon"
    ]
    ghost = {**COUPLE, "households": {"h": {"members": ["a", "ghost"]}}}
    assert fields(ghost) == ["household.households.h.members[1]"]
    twice = {**COUPLE, "tax_units": {"x": {"members": ["a"]}, "y": {"members": ["a", "b"]}}}
    assert fields(twice) == ["household.tax_units.y.members[0]"]


def test_completed_declares_left_out_groups_and_raises_when_malformed() -> None:
    calculation = completed(COUPLE, None)
    assert calculation.variables == DEFAULT_VARIABLES
    assert calculation.year == "2026"
    assert calculation.household["spm_units"] == {"spm_unit": {"members": ["a", "b"]}}
    assert calculation.household["marital_units"] == {"marital_unit": {"members": ["a", "b"]}}
    assert not calculation.alone
    with pytest.raises(InvalidHousehold):
        completed({"people": []}, None)
    partly = {**COUPLE, "families": {"f": {"members": ["a"]}}}
    assert completed(partly, None).alone
    assert completed({**COUPLE, "axes": [[]]}, None).alone


def test_the_year_is_the_latest_named() -> None:
    later = {"people": {"a": {"age": {"2025": 40}, "snap": {"2027-03": None}}}}
    assert calculation_year(later) == "2027"


def test_wanted_values_are_the_nulls_and_the_named_variables_unless_given() -> None:
    household = copy.deepcopy(COUPLE)
    household["households"]["h"]["household_net_income"] = {"2026": 1.5}
    calculation = completed(household, ["household_net_income", "income_tax"])
    assert wanted_values(calculation, ENTITY_OF) == [
        Wanted("tax_units", "tu", "filing_status", "2026"),
        Wanted("tax_units", "tu", "income_tax", "2026"),
    ]


def test_batch_keys_match_only_for_the_same_inputs() -> None:
    single: dict[str, Any] = {
        "people": {"x": {"age": {"2026": 30}}},
        "households": {"h": {"members": ["x"], "state_code": {"2026": "TX"}}},
    }
    other = copy.deepcopy(single)
    other["people"]["x"]["employment_income"] = {"2026": 1000}
    key = batch_key(completed(COUPLE, None), 0)
    assert key == batch_key(completed(single, None), 1)
    assert key != batch_key(completed(other, None), 2)


def test_merged_prefixes_every_id_and_records_positions() -> None:
    one, two = completed(COUPLE, None).household, completed(COUPLE, None).household
    situation = merged([one, two])
    assert list(situation.situation["people"]) == ["h0:a", "h0:b", "h1:a", "h1:b"]
    assert situation.situation["tax_units"]["h1:tu"]["members"] == ["h1:a", "h1:b"]
    assert situation.positions["tax_units"][(1, "tu")] == 1
    assert situation.positions["people"][(1, "b")] == 3


def test_filled_puts_values_in_place_and_adds_left_out_groups() -> None:
    calculation = completed(COUPLE, None)
    answer = filled(
        COUPLE,
        calculation.household,
        {
            Wanted("tax_units", "tu", "filing_status", "2026"): "JOINT",
            Wanted("spm_units", "spm_unit", "snap", "2026"): 0.0,
        },
    )
    assert answer["tax_units"]["tu"]["filing_status"] == {"2026": "JOINT"}
    assert answer["spm_units"] == {"spm_unit": {"members": ["a", "b"], "snap": {"2026": 0.0}}}
    assert COUPLE["tax_units"]["tu"]["filing_status"] == {"2026": None}


def test_the_gateway_routes_household_calculations_to_the_simulation_service() -> None:
    assert owner_of("/api/v1/households/calculate") == "simulation"
    assert refusal("readonly", "POST", "/api/v1/households/calculate") is None
    assert refusal("readonly", "POST", "/api/v1/simulations") is not None
