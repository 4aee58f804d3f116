"""Household-level results, version 1: the Parquet files a simulation writes.

Every simulation writes `households.parquet` (one row per household) and
`people.parquet` (one row per person). Values are policyengine-us's own, unrounded
(money as float32). Columns prefixed `baseline_` / `reform_` exist once per policy.
Extra outputs a simulation asked for follow the household columns as
`baseline_<variable>`, `reform_<variable>`. Consumers must ignore columns they do not know.
"""

from __future__ import annotations

# 2: program columns (PROGRAM_VARIABLES) and, where the dataset has it, people's `race`.
RESULT_FORMAT_VERSION = 2

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
