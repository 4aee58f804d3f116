"""The built-in synthetic US population: seeded, so a seed and a size name one population.

Households are apportioned to the 50 states and DC by 2020-census population (each
state gets one first once there are at least 51 households) and listed state by state.
Within a household, people form PolicyEngine US's group entities the way surveys
do: a married couple is one marital unit and files jointly with its dependent
children; cohabiting partners and roommates file alone; relatives share a family
and an SPM unit, cohabiting partners share an SPM unit only.

Inputs are policyengine-us 2.68 input variables (never formula outputs, which a
dataset must not override): `employment_income`, `self_employment_income`,
`partnership_income`, `taxable_private_pension_income`, `taxable_interest_income`,
`qualified_dividend_income`, `long_term_capital_gains`, `social_security_retirement`,
`social_security_disability` (synthetic_income draws them), and `pre_subsidy_rent`
(PolicyEngine's `rent` is computed from it net of housing assistance).
`tax_unit_role_input` gives every member's tax-unit role, so `is_tax_unit_head` /
`_spouse` / `_dependent` follow it. `cps_race` and `is_hispanic` give PolicyEngine's
`race`. `county_fips` is a five-digit string, which SPM poverty needs.

Household weights are calibrated to published US totals (synthetic_weights, with the
sources in us_totals): households, people, state populations, age bands, race, tax
units by AGI band and income by source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import pandas as pd

from services.dataset.domain.synthetic_geography import STATES, State
from services.dataset.domain.synthetic_income import (
    CPS_RACE_CODE,
    by_age,
    draw_capital_income,
    draw_earnings,
    draw_race,
    scale_to_totals,
)
from services.dataset.domain.synthetic_weights import Sample, calibrated_weights, initial_weights
from services.dataset.domain.us_totals import US_HOUSEHOLDS as US_HOUSEHOLDS
from services.dataset.domain.us_totals import US_POPULATION as US_POPULATION
from shared.population import Population

# Amounts are drawn in 2024 dollars and grown by this much a year to the dataset's year.
PRICE_GROWTH = 0.03
BASE_YEAR = 2024


class Kind(IntEnum):
    SINGLE = 0
    COUPLE = 1
    COUPLE_WITH_CHILDREN = 2
    SINGLE_PARENT = 3
    COHABITING = 4
    ROOMMATES = 5
    MULTIGENERATIONAL = 6
    COUPLE_WITH_ADULT_CHILD = 7


KIND_SHARES = np.array([0.27, 0.22, 0.17, 0.07, 0.06, 0.06, 0.06, 0.09])
CHILD_COUNT_SHARES = np.array([0.42, 0.38, 0.15, 0.05])  # one to four children


def apportion(total: int, shares: np.ndarray) -> np.ndarray:
    """Largest-remainder apportionment of `total` by `shares` (ties to the earlier)."""
    quotas = total * shares / shares.sum()
    counts: np.ndarray = np.floor(quotas).astype(np.int64)
    remainders = quotas - counts
    order = np.argsort(-remainders, kind="stable")
    counts[order[: total - int(counts.sum())]] += 1
    return counts


def state_counts(households: int) -> np.ndarray:
    """Households per state (STATES order): one each first when there are enough."""
    shares = np.array([state.population for state in STATES], dtype=np.float64)
    if households < len(STATES):
        return apportion(households, shares)
    return 1 + apportion(households - len(STATES), shares)


@dataclass
class People:
    """Person rows as they are drawn, with group numbers local to their household."""

    household: list[int] = field(default_factory=list)
    tax_unit: list[int] = field(default_factory=list)
    marital_unit: list[int] = field(default_factory=list)
    family: list[int] = field(default_factory=list)
    spm_unit: list[int] = field(default_factory=list)
    age: list[int] = field(default_factory=list)
    female: list[bool] = field(default_factory=list)
    role: list[str] = field(default_factory=list)
    household_head: list[bool] = field(default_factory=list)
    household_spouse: list[bool] = field(default_factory=list)
    student: list[bool] = field(default_factory=list)
    members: int = 0

    def add(
        self,
        household: int,
        units: tuple[int, int, int],
        age: int,
        female: bool,
        role: str,
        *,
        married: bool = False,
        spouse: bool = False,
        student: bool = False,
    ) -> None:
        """Add a member; `units` are the local (tax unit, family, SPM unit) numbers.

        A married person shares marital unit 0 with their spouse; anyone else has
        a marital unit of their own, numbered by their place in the household.
        """
        if not self.household or self.household[-1] != household:
            self.members = 0
        tax_unit, family, spm_unit = units
        self.household.append(household)
        self.tax_unit.append(tax_unit)
        self.marital_unit.append(0 if married else self.members)
        self.family.append(family)
        self.spm_unit.append(spm_unit)
        self.age.append(age)
        self.female.append(female)
        self.role.append(role)
        self.household_head.append(self.members == 0)
        self.household_spouse.append(spouse)
        self.student.append(student)
        self.members += 1


def clipped_normal(rng: np.random.Generator, mean: float, sd: float, low: int, high: int) -> int:
    return int(np.clip(round(rng.normal(mean, sd)), low, high))


def adult_age(rng: np.random.Generator, kind: Kind) -> int:
    if kind == Kind.SINGLE:
        band = rng.choice(3, p=[0.26, 0.36, 0.38])
        return int(rng.integers((18, 35, 65)[band], (35, 65, 91)[band]))
    if kind == Kind.COUPLE:
        band = rng.choice(3, p=[0.17, 0.38, 0.45])
        return int(rng.integers((22, 35, 65)[band], (35, 65, 91)[band]))
    mean, sd, low, high = {
        Kind.COUPLE_WITH_CHILDREN: (40, 7, 22, 62),
        Kind.SINGLE_PARENT: (36, 8, 18, 60),
        Kind.COHABITING: (32, 9, 19, 75),
        Kind.ROOMMATES: (28, 7, 18, 65),
        Kind.MULTIGENERATIONAL: (45, 7, 30, 60),
        Kind.COUPLE_WITH_ADULT_CHILD: (55, 6, 44, 72),
    }[kind]
    return clipped_normal(rng, mean, sd, low, high)


def add_household(rng: np.random.Generator, people: People, index: int, kind: Kind) -> None:
    """Draw one household's members, head first."""
    head_age = adult_age(rng, kind)
    head_female = bool(rng.random() < (0.78 if kind == Kind.SINGLE_PARENT else 0.5))
    married = kind in (
        Kind.COUPLE,
        Kind.COUPLE_WITH_CHILDREN,
        Kind.MULTIGENERATIONAL,
        Kind.COUPLE_WITH_ADULT_CHILD,
    )
    people.add(index, (0, 0, 0), head_age, head_female, "HEAD", married=married)
    if married:
        age = clipped_normal(rng, head_age - 2, 3, 18, 95)
        people.add(index, (0, 0, 0), age, not head_female, "SPOUSE", married=True, spouse=True)
    children = 0
    if kind in (Kind.COUPLE_WITH_CHILDREN, Kind.MULTIGENERATIONAL, Kind.SINGLE_PARENT):
        children = 1 + int(rng.choice(4, p=CHILD_COUNT_SHARES))
    elif kind == Kind.COHABITING and rng.random() < 0.35:
        children = 1 + int(rng.integers(0, 2))
    oldest_child = max(1, min(18, head_age - 17))
    for _ in range(children):
        age = int(rng.integers(0, oldest_child))
        people.add(index, (0, 0, 0), age, bool(rng.random() < 0.49), "DEPENDENT")
    if kind == Kind.COHABITING:
        # A partner files alone and is no relative, but shares the head's SPM unit.
        age = clipped_normal(rng, head_age, 4, 18, 95)
        people.add(index, (1, 1, 0), age, not head_female, "HEAD")
    elif kind == Kind.ROOMMATES:
        others = 1 + int(rng.random() < 0.35) + int(rng.random() < 0.1)
        for roommate in range(1, 1 + others):
            age = clipped_normal(rng, head_age, 5, 18, 80)
            units = (roommate, roommate, roommate)
            people.add(index, units, age, bool(rng.random() < 0.5), "HEAD")
    elif kind == Kind.MULTIGENERATIONAL:
        age = min(95, head_age + int(rng.integers(24, 36)))
        people.add(index, (1, 0, 0), age, bool(rng.random() < 0.65), "HEAD")
    adult_children = 0
    if kind == Kind.COUPLE_WITH_ADULT_CHILD:
        adult_children = 1 + int(rng.random() < 0.35)
    elif kind == Kind.COUPLE_WITH_CHILDREN and head_age >= 38:
        adult_children = int(rng.random() < 0.2)
    for number in range(adult_children):
        add_adult_child(rng, people, index, head_age, tax_unit=1 + number)


def add_adult_child(
    rng: np.random.Generator, people: People, index: int, head_age: int, tax_unit: int
) -> None:
    """A grown child: a student of 23 or less half the time, then their parents' dependent."""
    age = int(rng.integers(18, max(19, min(31, head_age - 17))))
    female = bool(rng.random() < 0.5)
    if age <= 23 and rng.random() < 0.5:
        people.add(index, (0, 0, 0), age, female, "DEPENDENT", student=True)
    else:
        people.add(index, (tax_unit, 0, 0), age, female, "HEAD")


def sequential_ids(household: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Global ids 1, 2, ... for (household, local group) pairs, in order of appearance."""
    keys = household.astype(np.int64) * 1_000_000 + local.astype(np.int64)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(1, len(first) + 1)
    return rank[inverse]


def generate_population(households: int, seed: int, year: int) -> Population:
    """A synthetic US population of `households` households, the same for the same arguments."""
    if households < 1:
        raise ValueError("a population needs at least one household")
    rng = np.random.default_rng(seed)
    counts = state_counts(households)
    state_index = np.repeat(np.arange(len(STATES)), counts)
    kinds = rng.choice(len(Kind), size=households, p=KIND_SHARES)
    people = People()
    for index, kind in enumerate(kinds.tolist()):
        add_household(rng, people, index, Kind(kind))

    member_of = np.asarray(people.household)
    age = np.asarray(people.age, dtype=np.int64)
    earnings = draw_earnings(rng, age)
    capital = draw_capital_income(rng, age, earnings)
    state_weight = initial_weights(state_index)
    drawn = {**{name: amount for name, amount in earnings.items() if name != "top"}, **capital}
    base_incomes = scale_to_totals(drawn, state_weight[member_of])

    head_age = age[np.asarray(people.household_head)]
    renting = rng.random(households) < by_age(head_age, (0, 35, 65), (0.62, 0.33, 0.2))
    mortgaged = rng.random(households) < by_age(head_age, (0, 50, 65), (0.85, 0.7, 0.35))
    tenure = np.where(
        renting, "RENTED", np.where(mortgaged, "OWNED_WITH_MORTGAGE", "OWNED_OUTRIGHT")
    )
    monthly_rent = rng.lognormal(np.log(1_250), 0.35, households)
    scale = (1 + PRICE_GROWTH) ** (year - BASE_YEAR)
    rent = np.where(renting, np.round(12 * monthly_rent * scale), 0.0)
    household_income = np.bincount(
        member_of, weights=sum(base_incomes.values()), minlength=households
    )
    race = draw_race(rng, household_income)

    ids = {
        entity: sequential_ids(member_of, np.asarray(getattr(people, entity)))
        for entity in ("tax_unit", "family", "spm_unit", "marital_unit")
    }
    person = pd.DataFrame(
        {
            "person_id": np.arange(1, len(age) + 1, dtype=np.int64),
            "person_household_id": member_of.astype(np.int64) + 1,
            **{f"person_{entity}_id": ids[entity] for entity in ids},
            "age": age,
            "is_female": np.asarray(people.female),
            "is_male": ~np.asarray(people.female),
            "tax_unit_role_input": np.asarray(people.role, dtype=object),
            "is_household_head": np.asarray(people.household_head),
            "is_household_spouse": np.asarray(people.household_spouse),
            "is_full_time_college_student": np.asarray(people.student),
            # Adding 0.0 turns the -0.0 of rounded small losses into 0.0.
            **{name: np.round(amount * scale) + 0.0 for name, amount in base_incomes.items()},
            "cps_race": np.array([CPS_RACE_CODE[r] for r in race[member_of]], dtype=np.int64),
            "is_hispanic": race[member_of] == "HISPANIC",
            # The head pays the household's rent.
            "pre_subsidy_rent": np.where(people.household_head, rent[member_of], 0.0),
        }
    )
    counties = [draw_county(rng, STATES[s]) for s in state_index.tolist()]
    household = pd.DataFrame(
        {
            "household_id": np.arange(1, households + 1, dtype=np.int64),
            "household_weight": calibrated_weights(
                Sample(state_index, member_of, ids["tax_unit"], age, race, base_incomes)
            ),
            "state_fips": np.array([STATES[s].fips for s in state_index], dtype=np.int64),
            "county_fips": np.asarray(counties, dtype=object),
            "tenure_type": tenure.astype(object),
        }
    )
    spm_tenure = {"RENTED": "RENTER", "OWNED_WITH_MORTGAGE": "OWNER_WITH_MORTGAGE"}
    spm_household = first_household(ids["spm_unit"], member_of)
    return {
        "person": person,
        "household": household,
        "tax_unit": pd.DataFrame({"tax_unit_id": np.unique(ids["tax_unit"])}),
        "spm_unit": pd.DataFrame(
            {
                "spm_unit_id": np.unique(ids["spm_unit"]),
                "spm_unit_tenure_type": np.array(
                    [spm_tenure.get(t, "OWNER_WITHOUT_MORTGAGE") for t in tenure[spm_household]],
                    dtype=object,
                ),
            }
        ),
        "family": pd.DataFrame({"family_id": np.unique(ids["family"])}),
        "marital_unit": pd.DataFrame({"marital_unit_id": np.unique(ids["marital_unit"])}),
    }


def draw_county(rng: np.random.Generator, state: State) -> str:
    populations = np.array([population for _, population in state.counties], dtype=np.float64)
    return state.counties[int(rng.choice(len(populations), p=populations / populations.sum()))][0]


def first_household(group_ids: np.ndarray, member_of: np.ndarray) -> np.ndarray:
    """The household index of each group (groups numbered 1, 2, ... in order)."""
    _, first = np.unique(group_ids, return_index=True)
    result: np.ndarray = member_of[first]
    return result
