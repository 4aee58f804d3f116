"""A reform costs only what it changes, and changes no result: the reduced paths are
checked bit for bit against the full computation.

One population with a household in every state (and many tax units that itemise, so
the itemisation branches run) is run under each reform of REFORMS twice: by the
engine as it runs in production (parametric systems, the baseline reused from the
store, the reform arm reduced to what the reform changes) and by an engine that
calculates every variable of the reform arm. Every stored column of both must be
equal, to the bit. Reforms the record cannot vouch for must take the full path and
say why.

Every reform of REFORMS takes about 22 s here (the full reference is most of it), so
`make test` runs CI_REFORMS, one of each kind, and `make test-reforms`
(FISCUS_ALL_REFORMS=1) runs them all.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from services.dataset.domain.synthetic import generate_population
from services.simulation.adapters.baselines import StoredBaselines
from services.simulation.domain import reform_arm
from services.simulation.domain.baselines import baseline_key
from services.simulation.domain.engine import CALCULATED, PopulationEngine, SimulationResults
from services.simulation.domain.parametric import parametric_system
from shared.population import Population

pytestmark = [pytest.mark.slow, pytest.mark.engine]

YEAR = 2025
FROM_2025 = "2025-01-01.2100-12-31"


def reform(**values: Any) -> dict[str, dict[str, Any]]:
    """A reform from 2025 on; keyword `a__b__c` names parameter `a.b.c`."""
    return {path.replace("__", "."): {FROM_2025: value} for path, value in values.items()}


def bracket(path: str, value: Any) -> dict[str, dict[str, Any]]:
    return {path: {FROM_2025: value}}


# name -> (reform, the path its reform arm must take)
REFORMS: dict[str, tuple[dict[str, dict[str, Any]], str]] = {
    # Federal income and payroll taxes.
    "income tax rate 2": (reform(gov__irs__income__bracket__rates__2=0.15), "reduced"),
    "top income tax rate": (reform(gov__irs__income__bracket__rates__7=0.396), "reduced"),
    "bracket threshold": (
        reform(gov__irs__income__bracket__thresholds__3__SINGLE=90_000),
        "reduced",
    ),
    "standard deduction doubled": (
        reform(
            gov__irs__deductions__standard__amount__SINGLE=31_500,
            gov__irs__deductions__standard__amount__JOINT=63_000,
        ),
        "reduced",
    ),
    "SALT cap zero": (
        reform(
            gov__irs__deductions__itemized__salt_and_real_estate__cap__JOINT=0,
            gov__irs__deductions__itemized__salt_and_real_estate__cap__SINGLE=0,
        ),
        "reduced",
    ),
    "personal exemption": (reform(gov__irs__income__exemption__amount=4_000), "reduced"),
    "capital gains top rate": (reform(gov__irs__capital_gains__rates__3=0.25), "reduced"),
    "social security payroll rate": (
        reform(gov__irs__payroll__social_security__rate__employee=0.07),
        "reduced",
    ),
    "medicare payroll rate": (
        reform(gov__irs__payroll__medicare__rate__employee=0.02),
        "reduced",
    ),
    # Credits, bracket scales among them.
    "CTC base amount (scale)": (
        bracket("gov.irs.credits.ctc.amount.base[0].amount", 3_000),
        "reduced",
    ),
    "CTC refundable maximum": (
        reform(gov__irs__credits__ctc__refundable__individual_max=2_500),
        "reduced",
    ),
    "CTC phase-out threshold": (
        reform(gov__irs__credits__ctc__phase_out__threshold__JOINT=300_000),
        "reduced",
    ),
    "EITC maximum, no children (scale)": (
        bracket("gov.irs.credits.eitc.max[0].amount", 1_500),
        "reduced",
    ),
    "EITC phase-in rate (scale)": (
        bracket("gov.irs.credits.eitc.phase_in_rate[1].amount", 0.45),
        "reduced",
    ),
    "CDCC maximum": (reform(gov__irs__credits__cdcc__max=5_000), "reduced"),
    "recovery rebate per adult": (
        reform(gov__irs__credits__recovery_rebate_credit__caa__max__adult=1_400),
        "reduced",
    ),
    # Benefits.
    "SNAP earned income deduction": (
        reform(gov__usda__snap__income__deductions__earned_income=0.3),
        "reduced",
    ),
    "SNAP maximum allotment": (
        reform(gov__usda__snap__max_allotment__main__CONTIGUOUS_US__1=400),
        "reduced",
    ),
    "SSI individual amount": (reform(gov__ssa__ssi__amount__individual=1_200), "reduced"),
    "basic income": (
        reform(gov__contrib__ubi_center__basic_income__amount__person__flat=1_000),
        "reduced",
    ),
    # Programs zeroed and abolished.
    "SNAP abolished": (reform(gov__usda__snap__abolish_snap=True), "reduced"),
    "SSI abolition": (reform(gov__abolitions__ssi=True), "reduced"),
    "EITC abolition": (reform(gov__abolitions__eitc=True), "reduced"),
    # State taxes.
    "New York rate (scale)": (
        bracket("gov.states.ny.tax.income.main.single[3].rate", 0.065),
        "reduced",
    ),
    "New York EITC match": (
        reform(gov__states__ny__tax__income__credits__eitc__match=0.5),
        "reduced",
    ),
    "California top rate (scale)": (
        bracket("gov.states.ca.tax.income.rates.single[3].rate", 0.07),
        "reduced",
    ),
    "Massachusetts rate": (reform(gov__states__ma__tax__income__rates__part_b=0.09), "reduced"),
    "Illinois and Pennsylvania flat rates": (
        reform(gov__states__il__tax__income__rate=0.06, gov__states__pa__tax__income__rate=0.04),
        "reduced",
    ),
    # A reform from a later year changes nothing in this one.
    "CTC from 2027": (
        {"gov.irs.credits.ctc.amount.base[0].amount": {"2027-01-01.2100-12-31": 3_000}},
        "reduced",
    ),
    # Structural (contributed) reform: its variables are not the record's.
    "Wyden-Smith ACTC lookback (structural)": (
        reform(gov__contrib__congress__wyden_smith__actc_lookback=True),
        "full",
    ),
    # Labour-supply responses read the baseline simulation.
    "income elasticity": (
        reform(gov__simulation__labor_supply_responses__elasticities__income=-0.05),
        "full",
    ),
}

# One of each kind (the CTC's scale is the kept-baseline test's reform): what `make test`
# runs (FISCUS_ALL_REFORMS=1: every one).
CI_REFORMS = frozenset(
    {
        "income tax rate 2",
        "SALT cap zero",
        "EITC abolition",
        "SNAP earned income deduction",
        "SNAP abolished",
        "California top rate (scale)",
        "Wyden-Smith ACTC lookback (structural)",
        "income elasticity",
    }
)

# Reforms that change no stored column of this population: a later year's, and (no
# household here receives SSI or pays New York's third rate or claims its EITC) these.
VACUOUS = frozenset(
    {
        "CTC from 2027",
        "SSI individual amount",
        "SSI abolition",
        "New York rate (scale)",
        "New York EITC match",
    }
)

REASONS = {
    "Wyden-Smith ACTC lookback (structural)": reform_arm.STRUCTURAL,
    "income elasticity": reform_arm.BEHAVIOURAL_RESPONSES,
}


@pytest.fixture(scope="module")
def population() -> Population:
    """A household in every state; a third of the tax units itemise."""
    people = generate_population(60, seed=2027, year=YEAR)
    person = people["person"].copy()
    heads = person["is_household_head"].to_numpy()
    household = person["person_household_id"].to_numpy()
    itemisers = heads & (household % 3 == 0)
    person["real_estate_taxes"] = np.where(itemisers, 14_000.0 + 300.0 * household, 0.0)
    person["deductible_mortgage_interest"] = np.where(itemisers, 18_000.0, 0.0)
    person["charitable_cash_donations"] = np.where(itemisers, 6_000.0, 0.0)
    person["employment_income"] = np.where(
        itemisers, person["employment_income"] + 150_000.0, person["employment_income"]
    )
    return {**people, "person": person}


@pytest.fixture(scope="module")
def engines(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[PopulationEngine, PopulationEngine, str]:
    root = f"file://{tmp_path_factory.mktemp('baselines')}"
    store = StoredBaselines(root, 2**30)
    reduced = PopulationEngine(baseline_store=store)
    # The reference calculates every variable of each reform arm; its baseline comes from
    # the same store (checked against a calculated one below).
    full = PopulationEngine(reduce_reform_arm=False, baseline_store=store)
    key = baseline_key("test-population", YEAR, "all", "current-law", reduced.model_version)
    return reduced, full, key


def assert_identical(reduced: SimulationResults, full: SimulationResults) -> None:
    for frame, expected in ((reduced.households, full.households), (reduced.people, full.people)):
        assert list(frame.columns) == list(expected.columns)
        for column in frame.columns:
            got, want = frame[column].to_numpy(), expected[column].to_numpy()
            assert got.dtype == want.dtype, column
            same = (
                np.array_equal(got, want, equal_nan=True)
                if got.dtype.kind == "f"
                else np.array_equal(got, want)
            )
            assert same, f"{column} differs"


def test_a_kept_baseline_gives_what_a_calculated_one_gives(
    engines: tuple[PopulationEngine, PopulationEngine, str], population: Population
) -> None:
    reduced, full, key = engines
    ctc = REFORMS["CTC base amount (scale)"][0]
    calculated = full.run(population, YEAR, ctc)
    first = reduced.run(population, YEAR, ctc, baseline_key=key)
    again = reduced.run(population, YEAR, ctc, baseline_key=key)
    assert (calculated.baseline_source, first.baseline_source) == (CALCULATED, CALCULATED)
    assert again.baseline_source == "memory"
    assert first.reform_arm.path == again.reform_arm.path == reform_arm.REDUCED
    assert 0 < len(first.reform_arm.affected) < 1_000 < first.reform_arm.reused
    assert_identical(first, calculated)
    assert_identical(again, calculated)


@pytest.mark.parametrize("name", list(REFORMS))
def test_every_reform_gives_the_full_computations_results(
    engines: tuple[PopulationEngine, PopulationEngine, str], population: Population, name: str
) -> None:
    if name not in CI_REFORMS and not os.environ.get("FISCUS_ALL_REFORMS"):
        pytest.skip("one of the whole reform set: make test-reforms")
    reduced, full, key = engines
    policy, path = REFORMS[name]
    if path == reform_arm.FULL:
        # The full path is the reference computation itself: check the decision only,
        # without the 18 s build of a structural system.
        systems = reduced.systems
        structural = (
            parametric_system(
                systems.current_law, policy, systems.start_instant, systems.current_law_structure
            )
            is None
        )
        assert reform_arm.plan(None, policy, None, structural).path == reform_arm.FULL
        assert reform_arm.full_path_reason(policy, None, structural) == REASONS[name]
        return
    results = reduced.run(population, YEAR, policy, baseline_key=key)
    assert results.baseline_source != CALCULATED
    assert (results.reform_arm.path, results.reform_arm.reason) == (path, None)
    assert not reduced.systems.is_structural(policy)
    reference = full.run(population, YEAR, policy, baseline_key=key)
    assert reference.reform_arm.path == reform_arm.FULL
    assert_identical(results, reference)
    households = results.households
    changed = [
        column
        for column in households.columns
        if column.startswith("reform_")
        and not households[column].equals(households["baseline_" + column[len("reform_") :]])
    ]
    assert changed or name in VACUOUS, f"{name} changes no stored column"


def test_a_reform_over_a_baseline_policy_gives_the_full_computations_results(
    engines: tuple[PopulationEngine, PopulationEngine, str], population: Population
) -> None:
    """Over a baseline policy, what changes is what differs from it, set by either: the
    reform arm equals the full computation over the same (kept) baseline."""
    reduced, full, _ = engines
    baseline = {
        **REFORMS["CTC base amount (scale)"][0],
        **REFORMS["SNAP earned income deduction"][0],
    }
    policy = {**REFORMS["CTC refundable maximum"][0], **REFORMS["SNAP earned income deduction"][0]}
    key = baseline_key("test-population", YEAR, "all", "ctc-and-snap", reduced.model_version)
    results = reduced.run(population, YEAR, policy, baseline, baseline_key=key)
    assert (results.reform_arm.path, results.baseline_source) == (reform_arm.REDUCED, CALCULATED)
    reference = full.run(population, YEAR, policy, baseline, baseline_key=key)
    assert reference.baseline_source == "memory"
    assert_identical(results, reference)
