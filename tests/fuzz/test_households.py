"""Household JSON to the simulation API, which runs with no households worker: a
malformed household is refused as 422 naming the field, without waiting for one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.simulation.domain.households import ENTITIES, structure_errors
from services.simulation.main import create_app as simulation_app
from shared.settings import Settings
from tests.fuzz.hostile import (
    FUZZ,
    JSON,
    JSON_BODY,
    PERIODS,
    SOME,
    fields_of,
    problem_of,
    running,
    seen,
    sendable,
)

HOUSEHOLDS = "/api/v1/households/calculate"
IDS = st.text(alphabet="abcxyz0_-", min_size=1, max_size=4)
VARIABLE = st.sampled_from(["age", "employment_income", "state_code", "is_tax_unit_head"])
VARIABLE_VALUES = st.one_of(st.dictionaries(PERIODS, JSON, max_size=3), JSON)


@st.composite
def households(draw: st.DrawFn) -> dict[str, Any]:
    """A household shaped like PolicyEngine's, with at least one thing wrong in it."""
    people = draw(st.dictionaries(IDS, st.dictionaries(VARIABLE, VARIABLE_VALUES), max_size=4))
    known = list(people)
    household: dict[str, Any] = {"people": people}
    for plural in draw(st.lists(st.sampled_from(ENTITIES[1:]), unique=True, max_size=3)):
        household[plural] = draw(
            st.dictionaries(
                IDS,
                st.fixed_dictionaries(
                    {
                        "members": st.one_of(
                            st.lists(st.sampled_from(known) if known else IDS, max_size=4),
                            st.lists(IDS, max_size=3),
                            JSON,
                        )
                    },
                    optional={"state_code": VARIABLE_VALUES},
                ),
                max_size=3,
            )
        )
    breaking = draw(
        st.sampled_from(
            [
                "unknown entity",
                "ghost member",
                "member twice",
                "bad period",
                "values not by period",
                "no people",
                "members not a list",
                "not an object",
                "huge",
            ]
        )
    )
    anyone = known[0] if known else "p"
    if breaking == "unknown entity":
        unknown = st.text(min_size=1, max_size=12).filter(lambda k: k not in (*ENTITIES, "axes"))
        household[draw(unknown)] = {}
    elif breaking == "ghost member":
        household.setdefault("households", {})["h"] = {"members": ["nobody-" + anyone]}
    elif breaking == "member twice":
        people.setdefault(anyone, {})
        household["tax_units"] = {"t1": {"members": [anyone]}, "t2": {"members": [anyone]}}
    elif breaking == "bad period":
        people.setdefault(anyone, {})["age"] = {"soon": 40}
    elif breaking == "values not by period":
        people.setdefault(anyone, {})["age"] = draw(st.one_of(st.integers(), st.just({})))
    elif breaking == "no people":
        household["people"] = draw(st.sampled_from([{}, [], None, "x", 0]))
    elif breaking == "members not a list":
        household["families"] = {"f": {"members": draw(st.one_of(st.text(), st.integers()))}}
    elif breaking == "not an object":
        household["spm_units"] = draw(st.one_of(st.lists(JSON, max_size=2), st.text()))
    else:
        many = [f"p{i}" for i in range(2000)]
        household["people"] = {p: {"age": {"2026": 30}} for p in many}
        household["households"] = {"h": {"members": [*many, "ghost"]}}
    return household


@pytest.fixture(scope="module")
async def simulation(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    # No households worker runs: anything the API does not refuse itself waits this long
    # and answers 504, which the properties below treat as a failure.
    quick = migrated.model_copy(update={"household_timeout_seconds": 3.0})
    async with running(simulation_app(quick), "http://simulation") as client:
        yield client


@FUZZ
@given(household=households())
async def test_a_malformed_household_is_422_naming_the_field_without_a_worker(
    simulation: httpx.AsyncClient, household: dict[str, Any]
) -> None:
    expected = sorted({error.field for error in structure_errors(household)})
    assert expected, household
    answer = await simulation.post(
        HOUSEHOLDS, content=sendable({"household": household}), headers=JSON_BODY
    )
    seen("household", answer)
    fields = fields_of(problem_of(answer, 422))
    assert sorted(set(fields)) == expected, answer.text[:1000]
    assert all(field.startswith("household") for field in fields)


@settings(max_examples=SOME, deadline=None)
@given(
    body=st.one_of(
        JSON,
        st.fixed_dictionaries(
            {"household": st.one_of(JSON, households())},
            optional={
                "policy": JSON,
                "policy_id": JSON,
                "variables": st.one_of(JSON, st.lists(st.text(max_size=5), min_size=201)),
                "extra": JSON,
            },
        ),
    )
)
async def test_malformed_household_requests_are_refused_without_a_worker(
    simulation: httpx.AsyncClient, body: Any
) -> None:
    household = body.get("household") if isinstance(body, dict) else None
    if isinstance(household, dict) and not structure_errors(household):
        # A well-formed household needs a worker; others' fields are checked above.
        household = body["household"] = {"people": {}}
    answer = await simulation.post(HOUSEHOLDS, content=sendable(body), headers=JSON_BODY)
    seen("household request", answer)
    fields = fields_of(problem_of(answer, 422))
    assert all(field.startswith(("body", "household", "policy_id")) for field in fields), fields
