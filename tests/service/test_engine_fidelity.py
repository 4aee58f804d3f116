"""PopulationEngine against policyengine-us itself: the same numbers, value for value.

A synthetic population goes through storage (write_population, read_population) and
is then run twice: by the engine, on its shared prebuilt tax-benefit systems, and by
plain `policyengine_us.Microsimulation`s built here, each building its own system.
"""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from contracts.results.v1 import (
    HOUSEHOLD_VARIABLES,
    PERSON_VARIABLES,
    household_columns,
    person_columns,
    policy_column,
)
from services.dataset.domain.synthetic import generate_population
from services.simulation.domain import systems as systems_module
from services.simulation.domain.engine import PopulationEngine, SimulationResults
from services.simulation.domain.systems import TaxBenefitSystems, reform_hash
from shared.population import (
    ENTITIES,
    Population,
    read_population,
    to_parquet_bytes,
    write_population,
)
from tests.direct_policyengine import calculated as direct_calculated
from tests.direct_policyengine import direct_simulations
from tests.population_files import stored

YEAR = 2025
CTC = {"gov.irs.credits.ctc.amount.base[0].amount": {"2025-01-01.2100-12-31": 3000}}


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Population:
    generated = generate_population(200, seed=2025, year=YEAR)
    root = f"file://{tmp_path_factory.mktemp('population')}/synthetic"
    return stored(generated, root)


@pytest.fixture(scope="module")
def results(population_engine: PopulationEngine, population: Population) -> SimulationResults:
    return population_engine.run(population, YEAR, CTC)


@pytest.fixture(scope="module")
def direct(population: Population) -> dict[str, Any]:
    return direct_simulations(population, YEAR, CTC)


def calculated(simulation: Any, variable: str, map_to: str | None = None) -> np.ndarray:
    return np.asarray(direct_calculated(simulation, variable, YEAR, map_to=map_to))


def test_reform_hash_is_stable_and_ignores_key_order() -> None:
    reordered = {"b": {"2025": 1}, "a": {"2026": 2, "2025": 3}}
    assert reform_hash(reordered) == reform_hash({"a": {"2025": 3, "2026": 2}, "b": {"2025": 1}})
    assert reform_hash(CTC) == reform_hash(copy.deepcopy(CTC))
    assert reform_hash(CTC) != reform_hash(
        {"gov.irs.credits.ctc.amount.base[0].amount": {"2025-01-01.2100-12-31": 3001}}
    )
    assert len(reform_hash(None)) == 64
    assert reform_hash(None) != reform_hash(CTC)


@pytest.mark.slow
def test_results_have_exactly_the_published_columns(results: SimulationResults) -> None:
    assert list(results.households.columns) == household_columns()
    # The synthetic population gives race's inputs (cps_race, is_hispanic): people carry it.
    assert list(results.people.columns) == [*person_columns(), "race"]


@pytest.mark.slow
def test_race_is_policyengines(results: SimulationResults, direct: dict[str, Any]) -> None:
    expected = direct["baseline"].calculate("race", YEAR, decode_enums=True, use_weights=False)
    assert results.people["race"].tolist() == np.asarray(expected).astype(str).tolist()


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["baseline", "reform"])
@pytest.mark.parametrize("variable", HOUSEHOLD_VARIABLES)
def test_household_values_are_policyengines(
    results: SimulationResults, direct: dict[str, Any], policy: str, variable: str
) -> None:
    expected = calculated(direct[policy], variable, map_to="household")
    actual = results.households[policy_column(policy, variable)].to_numpy()
    assert actual.dtype == expected.dtype
    np.testing.assert_array_equal(actual, expected)


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["baseline", "reform"])
@pytest.mark.parametrize("variable", PERSON_VARIABLES)
def test_person_values_are_policyengines(
    results: SimulationResults, direct: dict[str, Any], policy: str, variable: str
) -> None:
    expected = calculated(direct[policy], variable, map_to="person")
    np.testing.assert_array_equal(results.people[policy_column(policy, variable)], expected)


@pytest.mark.slow
def test_keys_come_from_the_baseline_and_the_population(
    results: SimulationResults, direct: dict[str, Any], population: Population
) -> None:
    households, people = results.households, results.people
    baseline = direct["baseline"]
    np.testing.assert_array_equal(
        households["household_id"], population["household"]["household_id"]
    )
    np.testing.assert_array_equal(
        households["household_weight"], calculated(baseline, "household_weight")
    )
    np.testing.assert_array_equal(
        households["household_income_decile"], calculated(baseline, "household_income_decile")
    )
    sizes = population["person"]["person_household_id"].value_counts()
    np.testing.assert_array_equal(
        households["household_count_people"], sizes.reindex(households["household_id"])
    )
    state = baseline.calculate("state_code", YEAR, decode_enums=True, use_weights=False)
    assert households["state_code"].tolist() == [str(code) for code in np.asarray(state)]
    assert households["state_code"].iloc[0] == "AL"
    assert households["state_code"].nunique() == 51

    person = population["person"]
    np.testing.assert_array_equal(people["person_id"], person["person_id"])
    np.testing.assert_array_equal(people["household_id"], person["person_household_id"])
    np.testing.assert_array_equal(people["age"], person["age"].astype(np.float32))
    np.testing.assert_array_equal(people["is_male"], person["is_male"])
    weight = households.set_index("household_id")["household_weight"]
    np.testing.assert_array_equal(people["person_weight"], weight.reindex(people["household_id"]))


@pytest.mark.slow
def test_a_larger_child_tax_credit_helps_families_with_children_only(
    results: SimulationResults, population: Population
) -> None:
    households = results.households
    gain = households["reform_household_net_income"] - households["baseline_household_net_income"]
    person = population["person"]
    with_children = set(person.loc[person["age"] < 17, "person_household_id"])
    has_children = households["household_id"].isin(with_children)
    assert (gain[has_children] > 0).any()
    assert (gain[~has_children] == 0).all()
    assert (gain >= 0).all()


@pytest.mark.slow
def test_the_synthetic_population_gives_plausible_national_totals(
    results: SimulationResults,
) -> None:
    households, people = results.households, results.people
    weight = households["household_weight"].astype(np.float64)

    def total(column: str) -> float:
        return float((households[column].astype(np.float64) * weight).sum())

    assert 7e12 < total("baseline_household_net_income") < 16e12
    assert 1e12 < total("baseline_household_tax") < 5e12
    assert 0.5e12 < total("baseline_household_benefits") < 3e12
    assert 0 < total("baseline_household_state_income_tax") < 1e12
    poverty = np.average(people["baseline_in_poverty"], weights=people["person_weight"])
    assert 0.04 < poverty < 0.25
    deciles = set(households["household_income_decile"])
    assert set(range(1, 11)) <= deciles <= set(range(-1, 11))


@pytest.mark.slow
def test_a_policy_builds_its_system_once_and_current_law_never(
    population_engine: PopulationEngine,
) -> None:
    from policyengine_us.system import system as current_law

    assert population_engine.system_for(None) is current_law
    assert population_engine.system_for({}) is current_law
    assert population_engine.system_for(CTC) is population_engine.system_for(copy.deepcopy(CTC))
    assert population_engine.model_version.count(".") == 2


@pytest.mark.slow
def test_reformed_systems_are_kept_in_a_bounded_lru(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []
    collector: list[str] = []

    def build(reform: Any) -> object:
        built.append(object())
        return built[-1]

    # A real thaw-and-collect walks the whole heap (seconds); record it instead.
    monkeypatch.setattr(
        systems_module,
        "gc",
        SimpleNamespace(
            unfreeze=lambda: collector.append("unfreeze"),
            collect=lambda: collector.append("collect"),
            freeze=lambda: collector.append("freeze"),
        ),
    )
    systems = TaxBenefitSystems(max_kept=2, parametric=False, build=build)
    # Real paths: the systems look each up before they build.
    path = next(iter(CTC))
    a, b, c = ({path: {"2025": n}} for n in range(3))
    first_a, first_b = systems.system_for(a), systems.system_for(b)
    assert systems.system_for(a) is first_a  # a hit, and now the most recent
    assert collector == ["freeze", "freeze"]
    systems.system_for(c)  # evicts b, the least recently used
    assert collector[2:] == ["unfreeze", "collect", "freeze"]
    assert systems.system_for(a) is first_a
    assert systems.system_for(b) is not first_b
    assert len(built) == 4
    assert len(systems) == 3


def test_population_frames_reach_policyengine_as_plain_strings(tmp_path: Path) -> None:
    from services.simulation.domain.engine import policyengine_frames

    generated = generate_population(60, seed=1, year=YEAR)
    root = f"file://{tmp_path}/synthetic"
    write_population(root, {entity: to_parquet_bytes(generated[entity]) for entity in ENTITIES})
    back = read_population(root)
    frames = policyengine_frames(back)
    county = frames["household"]["county_fips"].to_numpy()
    assert county.dtype == object
    assert all(type(value) is str for value in county)
    pd.testing.assert_frame_equal(
        frames["person"], back["person"], check_dtype=False, check_index_type=False
    )
    assert back["household"]["county_fips"].dtype != object  # the caller's frames are untouched
