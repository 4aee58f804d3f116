"""Extra outputs and race in the engine's results, against policyengine-us itself."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from contracts.results.v1 import household_columns, person_columns
from services.dataset.domain.synthetic import generate_population
from services.simulation.domain.engine import PopulationEngine, SimulationResults, UnknownOutputs
from shared.population import (
    Population,
)
from tests.direct_policyengine import calculated, direct_simulations
from tests.population_files import stored

YEAR = 2025
CTC = {"gov.irs.credits.ctc.amount.base[0].amount": {"2025-01-01.2100-12-31": 3000}}
OUTPUTS = ("adjusted_gross_income", "is_medicaid_eligible", "snap", "state_name")
RACES = np.array(["WHITE", "BLACK", "HISPANIC", "OTHER"])


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Population:
    generated = generate_population(200, seed=2025, year=YEAR)
    generated["person"] = generated["person"].assign(
        race=np.resize(RACES, len(generated["person"]))
    )
    root = f"file://{tmp_path_factory.mktemp('population')}/synthetic"
    return stored(generated, root)


@pytest.fixture(scope="module")
def results(population_engine: PopulationEngine, population: Population) -> SimulationResults:
    return population_engine.run(population, YEAR, CTC, outputs=OUTPUTS)


@pytest.fixture(scope="module")
def direct(population: Population) -> dict[str, Any]:
    return direct_simulations(population, YEAR, CTC)


@pytest.mark.slow
def test_outputs_follow_the_published_columns(results: SimulationResults) -> None:
    extra = [f"{policy}_{name}" for policy in ("baseline", "reform") for name in OUTPUTS]
    # snap is stored already: asked again, it is not repeated.
    extra = [column for column in extra if not column.endswith("_snap")]
    assert list(results.households.columns) == [*household_columns(), *extra]
    # A person's output is stored per person too.
    per_person = [f"{policy}_is_medicaid_eligible" for policy in ("baseline", "reform")]
    assert list(results.people.columns) == [*person_columns(), "race", *per_person]


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["baseline", "reform"])
def test_person_outputs_are_policyengines_per_person(
    results: SimulationResults, direct: dict[str, Any], policy: str
) -> None:
    expected = calculated(direct[policy], "is_medicaid_eligible", YEAR)
    np.testing.assert_array_equal(results.people[f"{policy}_is_medicaid_eligible"], expected)


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["baseline", "reform"])
@pytest.mark.parametrize("variable", ["adjusted_gross_income", "is_medicaid_eligible"])
def test_outputs_are_policyengines_summed_to_households(
    results: SimulationResults, direct: dict[str, Any], policy: str, variable: str
) -> None:
    expected = calculated(direct[policy], variable, YEAR, map_to="household")
    np.testing.assert_array_equal(results.households[f"{policy}_{variable}"], expected)


@pytest.mark.slow
def test_household_categories_are_their_names(
    results: SimulationResults, direct: dict[str, Any]
) -> None:
    names = direct["baseline"].calculate("state_name", YEAR, decode_enums=True)
    assert results.households["baseline_state_name"].tolist() == [str(n) for n in names]


@pytest.mark.slow
def test_race_is_the_datasets(results: SimulationResults, population: Population) -> None:
    assert results.people["race"].tolist() == population["person"]["race"].astype(str).tolist()


@pytest.mark.slow
def test_unknown_outputs_are_refused_by_name(population_engine: PopulationEngine) -> None:
    with pytest.raises(UnknownOutputs, match="not_a_variable"):
        population_engine.check_outputs(["snap", "not_a_variable"])
    with pytest.raises(UnknownOutputs, match="race"):
        population_engine.check_outputs(["race"])
    assert population_engine.check_outputs(["snap", "aca_ptc", "aca_ptc"]) == ["aca_ptc"]
