"""Household-level results, version 1: the Parquet files a simulation writes.

Every simulation writes `households.parquet` (one row per household) and
`people.parquet` (one row per person). Values are policyengine-us's own, unrounded
(money as float32). Columns prefixed `baseline_` / `reform_` exist once per policy.
After the standard columns come, in this order, the household keys of
OPTIONAL_HOUSEHOLD_KEYS the dataset allows, then per policy the extra outputs a
simulation asked for and, when a policy of the run sets labour-supply elasticities,
LABOR_SUPPLY_HOUSEHOLD_VARIABLES, as `baseline_<variable>`, `reform_<variable>`.
People get `race` when the dataset has it, then per policy the extra outputs of the
person entity and, with labour-supply responses, LABOR_SUPPLY_PERSON_VARIABLES.
Consumers must ignore columns they do not know.
"""

from __future__ import annotations

# 2: program columns (PROGRAM_VARIABLES) and, where the dataset has it, people's `race`.
# 3: wealth and congressional district keys, labour-supply columns, person-level outputs.
RESULT_FORMAT_VERSION = 3

POLICIES: tuple[str, ...] = ("baseline", "reform")

HOUSEHOLDS_FILE = "households.parquet"
PEOPLE_FILE = "people.parquet"

# Household columns that do not depend on the policy.
HOUSEHOLD_KEYS: tuple[str, ...] = (
    "household_id",
    "household_weight",
    "household_count_people",
    "state_code",
    # From the baseline: PolicyEngine's decile of household net income per person.
    "household_income_decile",
)

# The taxes and benefits of the report's `detailed_budget`, each summed to its household.
PROGRAM_VARIABLES: tuple[str, ...] = (
    "income_tax",
    "employee_payroll_tax",
    "state_income_tax",
    "eitc",
    "ctc",
    "snap",
    "ssi",
    "social_security",
    "tanf",
    "wic",
)

# policyengine-us household variables stored once per policy as `<policy>_<variable>`.
HOUSEHOLD_VARIABLES: tuple[str, ...] = (
    "household_net_income",
    "equiv_household_net_income",
    "household_market_income",
    "household_tax",
    "household_benefits",
    "household_state_income_tax",
    *PROGRAM_VARIABLES,
)

# Person columns that do not depend on the policy.
PERSON_KEYS: tuple[str, ...] = (
    "person_id",
    "household_id",
    "person_weight",
    "age",
    "is_male",
)

# Person columns written only when the dataset gives them (policyengine-us `race` enum name:
# WHITE, BLACK, HISPANIC or OTHER), after PERSON_VARIABLES' columns.
OPTIONAL_PERSON_KEYS: tuple[str, ...] = ("race",)

# Household columns written only when the dataset gives their input (`net_worth`,
# `congressional_district_geoid` on households): baseline net worth, its person-weighted
# decile over the whole population (v1's wealth decile, 1..10), and the district's GEOID
# (state FIPS x 100 + district number).
OPTIONAL_HOUSEHOLD_KEYS: tuple[str, ...] = (
    "household_net_worth",
    "household_wealth_decile",
    "congressional_district_geoid",
)
WEALTH_INPUT = "net_worth"
DISTRICT_INPUT = "congressional_district_geoid"

# Labour-supply response columns per policy, written when the baseline or the reform
# sets a `gov.simulation.labor_supply_responses` parameter: summed to the household...
LABOR_SUPPLY_HOUSEHOLD_VARIABLES: tuple[str, ...] = (
    "employment_income",
    "self_employment_income",
    "income_elasticity_lsr",
    "substitution_elasticity_lsr",
)
# ...and per person (hours are only summed, never averaged, so persons are enough).
LABOR_SUPPLY_PERSON_VARIABLES: tuple[str, ...] = (
    "income_elasticity_lsr",
    "substitution_elasticity_lsr",
    "weekly_hours_worked",
    "weekly_hours_worked_behavioural_response_income_elasticity",
    "weekly_hours_worked_behavioural_response_substitution_elasticity",
)
LABOR_SUPPLY_PARAMETERS = "gov.simulation.labor_supply_responses"

# The outputs to ask for to get v1's cliff impact in the report (each a person variable,
# so stored per person too). They cost a marginal-tax-rate run per adult.
CLIFF_OUTPUTS: tuple[str, ...] = ("cliff_gap", "is_on_cliff", "is_adult")

# policyengine-us person variables (SPM poverty of the person's unit), per policy.
PERSON_VARIABLES: tuple[str, ...] = (
    "in_poverty",
    "in_deep_poverty",
)


def policy_column(policy: str, variable: str) -> str:
    """The column holding `variable` under `policy` ("baseline" or "reform")."""
    return f"{policy}_{variable}"


def household_columns() -> list[str]:
    """Every column of `households.parquet`, in order."""
    return [*HOUSEHOLD_KEYS, *(policy_column(p, v) for p in POLICIES for v in HOUSEHOLD_VARIABLES)]


def person_columns() -> list[str]:
    """Every column of `people.parquet`, in order."""
    return [*PERSON_KEYS, *(policy_column(p, v) for p in POLICIES for v in PERSON_VARIABLES)]
