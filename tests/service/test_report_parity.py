"""The report's v1 sections (labour supply, wealth deciles, districts, cliffs) against
policyengine-us run directly on the same population, as v1 computes them.

The engine's extra columns must equal policyengine-us's arrays value for value, and
each section must equal v1's definition computed from those direct arrays (in float64,
so the order of summation is the only difference: 1e-9 of the terms' size).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from contracts.results.v1 import CLIFF_OUTPUTS
from services.aggregation.domain.report import build_report
from services.dataset.domain.synthetic import generate_population
from services.simulation.domain.engine import PopulationEngine, SimulationResults
from shared.population import (
    Population,
)
from tests.direct_policyengine import calculated, direct_simulations
from tests.population_files import stored
from tests.unit.aggregation_results import close

pytestmark = pytest.mark.slow

YEAR = 2025
FOREVER = "2025-01-01.2100-12-31"
CTC: dict[str, dict[str, Any]] = {"gov.irs.credits.ctc.amount.base[0].amount": {FOREVER: 3000}}
# A higher rate in the third bracket changes net incomes and marginal wages, so both the
# income and the substitution effects respond.
LABOUR_SUPPLY: dict[str, dict[str, Any]] = {
    "gov.irs.income.bracket.rates.3": {FOREVER: 0.27},
    "gov.simulation.labor_supply_responses.elasticities.income": {FOREVER: -0.05},
    "gov.simulation.labor_supply_responses.elasticities.substitution.all": {FOREVER: 0.25},
}


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Population:
    """Synthetic people with hours worked, households with net worth (debts included)
    and congressional districts, as stored and read back."""
    generated = generate_population(12, seed=2031, year=YEAR)
    rng = np.random.default_rng(5)
    person, household = generated["person"], generated["household"]
    working = person["employment_income"].to_numpy() > 0
    person["weekly_hours_worked_before_lsr"] = np.where(
        working, rng.integers(15, 50, len(person)), 0
    ).astype(float)
    worth = rng.lognormal(11, 1.5, len(household))
    worth[rng.random(len(household)) < 0.2] *= -0.1
    household["net_worth"] = np.round(worth)
    household["congressional_district_geoid"] = household["state_fips"] * 100 + rng.integers(
        0, 3, len(household)
    )
    root = f"file://{tmp_path_factory.mktemp('population')}/parity"
    return stored(generated, root)


@pytest.fixture(scope="module")
def responses(population_engine: PopulationEngine, population: Population) -> SimulationResults:
    return population_engine.run(population, YEAR, LABOUR_SUPPLY)


@pytest.fixture(scope="module")
def responses_direct(population: Population) -> dict[str, Any]:
    simulations = direct_simulations(population, YEAR, LABOUR_SUPPLY)
    # As v1 does: the responses' parts are read once the response itself is calculated.
    for simulation in simulations.values():
        simulation.calculate("employment_income_behavioral_response", YEAR)
    return simulations


@pytest.fixture(scope="module")
def cliffs(population_engine: PopulationEngine, population: Population) -> SimulationResults:
    return population_engine.run(population, YEAR, CTC, outputs=CLIFF_OUTPUTS)


@pytest.fixture(scope="module")
def cliffs_direct(population: Population) -> dict[str, Any]:
    return direct_simulations(population, YEAR, CTC)


def direct(simulation: Any, variable: str, map_to: str | None = None) -> np.ndarray:
    return np.asarray(calculated(simulation, variable, YEAR, map_to=map_to), dtype=np.float64)


def test_labour_supply_columns_are_policyengines(
    responses: SimulationResults, responses_direct: dict[str, Any]
) -> None:
    reform = responses_direct["reform"]
    people, households = responses.people, responses.households
    for effect in ("income_elasticity_lsr", "substitution_elasticity_lsr"):
        assert np.any(direct(reform, effect) != 0), f"no {effect}"
    for variable in ("income_elasticity_lsr", "substitution_elasticity_lsr", "weekly_hours_worked"):
        np.testing.assert_array_equal(
            people[f"reform_{variable}"], calculated(reform, variable, YEAR)
        )
    for variable in ("income_elasticity_lsr", "employment_income", "self_employment_income"):
        np.testing.assert_array_equal(
            households[f"reform_{variable}"],
            calculated(reform, variable, YEAR, map_to="household"),
        )
    # Current law has no response: v1 reports zeros for it.
    assert not people["baseline_income_elasticity_lsr"].any()


def test_labor_supply_response_is_v1s_from_direct_arrays(
    responses: SimulationResults, responses_direct: dict[str, Any]
) -> None:
    section = build_report(responses.households, responses.people)["labor_supply_response"]
    baseline, reform = responses_direct["baseline"], responses_direct["reform"]
    person_weight = direct(baseline, "person_weight")
    weight = direct(baseline, "household_weight")
    # Current law has no response (v1 reports zeros for it): the reform's values are the change.
    changes = {
        kind: direct(reform, f"{kind}_elasticity_lsr", "household")
        for kind in ("income", "substitution")
    }
    earnings = direct(baseline, "employment_income", "household") + direct(
        baseline, "self_employment_income", "household"
    )
    original = earnings - changes["income"] - changes["substitution"]
    decile = direct(baseline, "household_income_decile").astype(int)
    totals = {
        kind: float(person_weight @ direct(reform, f"{kind}_elasticity_lsr"))
        for kind in ("income", "substitution")
    }

    assert close(section["income_lsr"], totals["income"])
    assert close(section["substitution_lsr"], totals["substitution"])
    assert close(section["total_change"], totals["income"] + totals["substitution"])
    for kind, change in changes.items():
        assert close(section["relative_lsr"][kind], (weight @ change) / (weight @ original))
        for d in np.unique(decile):
            members = decile == d
            average = (weight[members] @ change[members]) / weight[members].sum()
            scale = float(np.abs(weight[members] * change[members]).sum() / weight[members].sum())
            assert close(section["decile"]["average"][kind][str(d)], average, scale)
            if d > 0:
                relative = (weight[members] @ change[members]) / (
                    weight[members] @ original[members]
                )
                assert close(section["decile"]["relative"][kind][str(d)], relative, 1e-3)
    hours = {p: float(person_weight @ direct(s, "weekly_hours_worked")) for p, s in
             (("baseline", baseline), ("reform", reform))}  # fmt: skip
    assert hours["baseline"] > 0
    assert close(section["hours"]["baseline"], hours["baseline"])
    assert close(section["hours"]["reform"], hours["reform"])
    for kind in ("income", "substitution"):
        effect = f"weekly_hours_worked_behavioural_response_{kind}_elasticity"
        assert close(
            section["hours"][f"{kind}_effect"],
            float(person_weight @ direct(reform, effect)),
            hours["baseline"],
        )


def test_wealth_deciles_are_v1s_from_direct_arrays(
    cliffs: SimulationResults, cliffs_direct: dict[str, Any]
) -> None:
    from microdf import MicroSeries  # type: ignore[import-untyped]

    households = cliffs.households
    baseline, reform = cliffs_direct["baseline"], cliffs_direct["reform"]
    worth = direct(baseline, "net_worth")
    np.testing.assert_array_equal(households["household_net_worth"], worth)
    weight = direct(baseline, "household_weight")
    people = direct(baseline, "household_count_people")
    ranked = MicroSeries(worth, weights=weight * people).decile_rank().clip(1, 10)
    decile = np.asarray(ranked).astype(int)
    np.testing.assert_array_equal(households["household_wealth_decile"], decile)

    report = build_report(households, cliffs.people)
    b, r = direct(baseline, "household_net_income"), direct(reform, "household_net_income")
    for d in np.unique(decile):
        members = decile == d
        gained = weight[members] @ (r - b)[members]
        scale = float(weight[members] @ np.abs(r[members]))
        assert close(
            report["wealth_decile"]["relative"][str(d)],
            gained / (weight[members] @ b[members]),
            1e-6,
        )
        assert close(
            report["wealth_decile"]["average"][str(d)],
            gained / weight[members].sum(),
            scale / weight[members].sum(),
        )
    # intra_wealth_decile: shares of people (w·n) by v1's relative change bucket.
    change = (r - b) / np.maximum(b, 1)
    buckets = ((-np.inf, -0.05), (-0.05, -1e-3), (-1e-3, 1e-3), (1e-3, 0.05), (0.05, np.inf))
    intra = report["intra_wealth_decile"]["deciles"]
    for (lower, upper), shares in zip(buckets, intra.values(), strict=True):
        in_bucket = (change > lower) & (change <= upper)
        for d in range(1, 11):
            everyone = (weight * people)[decile == d].sum()
            expected = (
                (weight * people)[(decile == d) & in_bucket].sum() / everyone if everyone else 0
            )
            assert close(shares[d - 1], expected)


def test_district_impact_is_from_direct_arrays(
    cliffs: SimulationResults, cliffs_direct: dict[str, Any], population: Population
) -> None:
    baseline, reform = cliffs_direct["baseline"], cliffs_direct["reform"]
    geoid = direct(baseline, "congressional_district_geoid").astype(int)
    np.testing.assert_array_equal(cliffs.households["congressional_district_geoid"], geoid)
    districts = build_report(cliffs.households, cliffs.people)["congressional_district_impact"]
    weight = direct(baseline, "household_weight")
    b, r = direct(baseline, "household_net_income"), direct(reform, "household_net_income")
    expected = sorted(set(geoid[geoid > 0].tolist()))
    assert [d["district_geoid"] for d in districts["districts"]] == expected
    for entry in districts["districts"]:
        members = geoid == entry["district_geoid"]
        before, after = weight[members] @ b[members], weight[members] @ r[members]
        assert close(entry["households"], weight[members].sum())
        assert close(
            entry["average_household_income_change"],
            (after - before) / weight[members].sum(),
            abs(after) / weight[members].sum(),
        )
        assert close(entry["relative_household_income_change"], after / before - 1, 1.0)


def test_cliff_impact_is_v1s_from_direct_arrays(
    cliffs: SimulationResults, cliffs_direct: dict[str, Any]
) -> None:
    section = build_report(cliffs.households, cliffs.people)["cliff_impact"]
    for policy in ("baseline", "reform"):
        simulation = cliffs_direct[policy]
        person_weight = direct(simulation, "person_weight")
        gap = direct(simulation, "cliff_gap")
        np.testing.assert_array_equal(cliffs.people[f"{policy}_cliff_gap"], gap)
        on_cliff = person_weight @ direct(simulation, "is_on_cliff")
        adults = person_weight @ direct(simulation, "is_adult")
        assert close(section[policy]["cliff_gap"], float(person_weight @ gap))
        assert close(section[policy]["cliff_share"], on_cliff / adults)


def test_sections_need_their_inputs(cliffs: SimulationResults) -> None:
    households = cliffs.households.drop(
        columns=["household_net_worth", "household_wealth_decile", "congressional_district_geoid"]
    )
    report = build_report(households, pd.DataFrame(cliffs.people))
    assert "wealth_decile" not in report and "congressional_district_impact" not in report
    assert report["labor_supply_response"]["total_change"] == 0.0
