"""Household weights of the synthetic population, calibrated to published US totals.

Initial weights split US_HOUSEHOLDS over the states by 2023 population, equally among
a state's households. Calibration (calibration.calibrate, raking distance) then meets,
exactly, households and people; and, as soft targets, state populations, people under
18 and 65 and over, people by race, tax units by AGI band from $50,000 up, and the
national totals of wages, interest, qualified dividends, long-term capital gains,
pensions and business income. A soft target is missed only where the sample cannot
reach it; it is left out where fewer than MIN_SUPPORT households reach it, and all are
left out below MIN_HOUSEHOLDS_FOR_SOFT_TARGETS households.
us_totals names the sources.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.dataset.domain.calibration import Target, calibrate
from services.dataset.domain.synthetic_geography import STATES
from services.dataset.domain.us_totals import (
    AGE_BANDS_2023,
    AGI_GROWTH_2021_TO_2024,
    BUSINESS_INCOME_2024,
    INCOME_BY_SOURCE_2024,
    RACE_SHARES_2023,
    RETURNS_BY_AGI_2021,
    STATE_POPULATIONS_2023,
    US_HOUSEHOLDS,
    US_POPULATION,
)

# Sources of income a tax unit's AGI is approximated by (half of Social Security counts).
AGI_SOURCES = (
    "employment_income",
    "self_employment_income",
    "taxable_private_pension_income",
    "taxable_interest_income",
    "qualified_dividend_income",
    "long_term_capital_gains",
    "partnership_income",
)
# Households a soft target must reach to be calibrated to, and households a sample
# needs for any: smaller ones are too few to carry some 75 targets without extreme weights.
MIN_SUPPORT = 5
MIN_HOUSEHOLDS_FOR_SOFT_TARGETS = 500


@dataclass(frozen=True)
class Sample:
    """What calibration needs to know of a drawn population (amounts in 2024 dollars)."""

    state_index: np.ndarray  # per household, index into STATES
    member_of: np.ndarray  # per person, household index
    tax_unit: np.ndarray  # per person, tax unit id 1, 2, ...
    age: np.ndarray  # per person
    race: np.ndarray  # per household, policyengine-us race name
    incomes: dict[str, np.ndarray]  # per person


def initial_weights(state_index: np.ndarray) -> np.ndarray:
    """US_HOUSEHOLDS split over the states present by population, equally within a state."""
    population = np.array([STATE_POPULATIONS_2023[s.code] for s in STATES], dtype=np.float64)
    present = np.bincount(state_index, minlength=len(STATES)) > 0
    share = np.where(present, population, 0.0) / population[present].sum()
    counts = np.bincount(state_index, minlength=len(STATES))
    weights: np.ndarray = US_HOUSEHOLDS * share[state_index] / counts[state_index]
    return weights


def tax_unit_agi(sample: Sample) -> tuple[np.ndarray, np.ndarray]:
    """(approximate AGI in 2021 dollars, household index) of each tax unit."""
    income = sum(sample.incomes[source] for source in AGI_SOURCES)
    income = income + 0.5 * (
        sample.incomes["social_security_retirement"] + sample.incomes["social_security_disability"]
    )
    units = sample.tax_unit - 1
    agi = np.bincount(units, weights=income) / AGI_GROWTH_2021_TO_2024
    household = np.zeros(units.max() + 1, dtype=np.int64)
    household[units] = sample.member_of
    return agi, household


def targets(sample: Sample) -> list[Target]:
    households = len(sample.state_index)
    size = np.bincount(sample.member_of, minlength=households).astype(np.float64)

    def people(mask: np.ndarray) -> np.ndarray:
        return np.bincount(sample.member_of, weights=mask.astype(np.float64), minlength=households)

    # Meeting both national totals needs households both smaller and larger than average.
    average = US_POPULATION / US_HOUSEHOLDS
    mixed = bool(size.min() < average < size.max())
    result = [
        Target("households", np.ones(households), US_HOUSEHOLDS, hard=True),
        Target("people", size, US_POPULATION, hard=mixed),
    ]
    present = np.unique(sample.state_index)
    present_population = sum(STATE_POPULATIONS_2023[STATES[s].code] for s in present)
    for s in present.tolist():
        state = STATES[s]
        share = STATE_POPULATIONS_2023[state.code] / present_population
        in_state = size * (sample.state_index == s)
        result.append(Target(f"people in {state.code}", in_state, share * US_POPULATION))
    for (low, high), aged in AGE_BANDS_2023.items():
        mask = (sample.age >= low) & (sample.age < high)
        result.append(Target(f"people aged {low} to {high - 1}", people(mask), aged))
    for race, share in RACE_SHARES_2023.items():
        result.append(Target(f"people {race}", size * (sample.race == race), share * US_POPULATION))
    agi, unit_household = tax_unit_agi(sample)
    for (floor, ceiling), returns in RETURNS_BY_AGI_2021.items():
        in_band = ((agi >= floor) & (agi < ceiling)).astype(np.float64)
        counts = np.bincount(unit_household, weights=in_band, minlength=households)
        name = f"tax units with AGI {floor:,.0f} to {ceiling:,.0f}"
        result.append(Target(name, counts, returns))

    def amounts(*sources: str) -> np.ndarray:
        income = sum(sample.incomes[source] for source in sources)
        return np.bincount(sample.member_of, weights=income, minlength=households)

    for source, total in INCOME_BY_SOURCE_2024.items():
        result.append(Target(source, amounts(source), total))
    business = amounts("self_employment_income", "partnership_income")
    result.append(Target("business income", business, BUSINESS_INCOME_2024))
    if households < MIN_HOUSEHOLDS_FOR_SOFT_TARGETS:
        return result[:2]
    # A soft target only a few households reach would hang on their weights alone.
    return [t for t in result if t.hard or np.count_nonzero(t.values) >= MIN_SUPPORT]


def calibrated_weights(sample: Sample) -> np.ndarray:
    """Household weights meeting the targets; rounded to a thousandth of a household."""
    weights = calibrate(initial_weights(sample.state_index), targets(sample))
    # Rounding hides last-bit differences between linear-algebra builds from the bytes.
    rounded: np.ndarray = np.maximum(np.round(weights, 3), 0.001)
    return rounded
