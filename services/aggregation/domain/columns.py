"""The result columns reports read, and reading numbers out of them.

Money is read as the model's float32 and computed in float64. A number v1 would
return as NaN or infinity (an empty group, a zero denominator) is None here,
because JSON has neither.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from contracts.results.v1 import (
    CLIFF_OUTPUTS,
    LABOR_SUPPLY_HOUSEHOLD_VARIABLES,
    LABOR_SUPPLY_PERSON_VARIABLES,
    OPTIONAL_HOUSEHOLD_KEYS,
    PROGRAM_VARIABLES,
    policy_column,
)

Floats = npt.NDArray[np.float64]
Number = float | None

POLICIES: tuple[str, ...] = ("baseline", "reform")
INCOME_DECILE = "household_income_decile"
WEALTH_DECILE = "household_wealth_decile"

# Columns every report needs.
HOUSEHOLD_COLUMNS: tuple[str, ...] = (
    "household_weight",
    "household_count_people",
    "household_income_decile",
    *(
        policy_column(policy, variable)
        for policy in POLICIES
        for variable in (
            "household_net_income",
            "equiv_household_net_income",
            "household_tax",
            "household_benefits",
            "household_state_income_tax",
        )
    ),
)
PERSON_COLUMNS: tuple[str, ...] = (
    "person_weight",
    "age",
    "is_male",
    *(
        policy_column(policy, variable)
        for policy in POLICIES
        for variable in ("in_poverty", "in_deep_poverty")
    ),
)
# Columns a report uses when the results have them (older results, datasets without race,
# wealth or districts, runs without labour-supply responses or cliffs).
OPTIONAL_HOUSEHOLD_COLUMNS: tuple[str, ...] = (
    "household_id",
    "state_code",
    *OPTIONAL_HOUSEHOLD_KEYS,
    *(
        policy_column(policy, variable)
        for policy in POLICIES
        for variable in (*PROGRAM_VARIABLES, *LABOR_SUPPLY_HOUSEHOLD_VARIABLES)
    ),
)
OPTIONAL_PERSON_COLUMNS: tuple[str, ...] = (
    "person_id",
    "race",
    *(
        policy_column(policy, variable)
        for policy in POLICIES
        for variable in (*LABOR_SUPPLY_PERSON_VARIABLES, *CLIFF_OUTPUTS)
    ),
)


class ResultsError(ValueError):
    """The results do not hold what the report needs."""


def require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    """Refuse `frame` if it lacks any of `columns`, naming them."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ResultsError(f"{name} results lack columns: {', '.join(missing)}")


def floats(column: pd.Series[Any]) -> Floats:
    """A column as float64."""
    return column.to_numpy(dtype=np.float64)


def values(frame: pd.DataFrame, policy: str, variable: str) -> Floats:
    """`variable` under `policy`, as float64."""
    return floats(frame[policy_column(policy, variable)])


def net_income(households: pd.DataFrame, policy: str) -> Floats:
    """Household net income under `policy`."""
    return values(households, policy, "household_net_income")


def deciles(households: pd.DataFrame, column: str = INCOME_DECILE) -> npt.NDArray[np.int64]:
    """The baseline income decile of each household (-1: negative net income), or the
    decile `column` names."""
    return households[column].to_numpy(dtype=np.int64)


def people_weight(households: pd.DataFrame) -> Floats:
    """Household weight times people: the number of people a household row stands for."""
    return floats(households["household_weight"]) * floats(households["household_count_people"])


def ratio(numerator: float, denominator: float) -> Number:
    """numerator / denominator, None when that is not a finite number."""
    if denominator == 0:
        return None
    return number(numerator / denominator)


def number(value: float) -> Number:
    """A finite float, or None."""
    return float(value) if np.isfinite(value) else None


def numbers(named: dict[str, float]) -> dict[str, Number]:
    """Each value finite or None."""
    return {key: number(value) for key, value in named.items()}
