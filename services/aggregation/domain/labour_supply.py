"""v1's `labor_supply_response`: how a reform changes earnings and hours through
policyengine-us's labour-supply responses (`gov.simulation.labor_supply_responses`).

Notation as in `domain.report`; for person-level sums p = person_weight. With the
labour-supply columns of contracts.results.v1 (a run where a policy sets elasticities):

    income_lsr        Σp·income_elasticity_lsr(r) - Σp·income_elasticity_lsr(b)
    substitution_lsr  the same with substitution_elasticity_lsr
    total_change      income_lsr + substitution_lsr
    revenue_change    0, as v1 reports it (v1 never measures the budget effect apart)
    per household: i = income_elasticity_lsr(r) - (b), s = the substitution one, and
    e = employment + self-employment income (b) - i - s, the earnings before responses
    relative_lsr      {income: Σw·i / Σw·e, substitution: Σw·s / Σw·e}
    decile            average: {income: Σ_d w·i / Σ_d w, substitution: ...} per baseline
                      income decile present; relative: {income: Σ_d w·i / Σ_d w·e, ...}
                      per decile 1..10 present
    hours             baseline Σp·weekly_hours_worked(b), reform (r), change r - b,
                      income_effect and substitution_effect: the change of
                      Σp·weekly_hours_worked_behavioural_response_*_elasticity

Without those columns nothing responds: every number is 0, as v1 answers then.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from contracts.results.v1 import LABOR_SUPPLY_HOUSEHOLD_VARIABLES, LABOR_SUPPLY_PERSON_VARIABLES
from services.aggregation.domain.columns import (
    POLICIES,
    Floats,
    Number,
    deciles,
    floats,
    ratio,
    values,
)

INCOME, SUBSTITUTION = "income_elasticity_lsr", "substitution_elasticity_lsr"
HOURS = "weekly_hours_worked"
HOURS_INCOME = "weekly_hours_worked_behavioural_response_income_elasticity"
HOURS_SUBSTITUTION = "weekly_hours_worked_behavioural_response_substitution_elasticity"

HOUSEHOLD_LSR_COLUMNS: tuple[str, ...] = tuple(
    f"{policy}_{variable}" for policy in POLICIES for variable in LABOR_SUPPLY_HOUSEHOLD_VARIABLES
)
PERSON_LSR_COLUMNS: tuple[str, ...] = tuple(
    f"{policy}_{variable}" for policy in POLICIES for variable in LABOR_SUPPLY_PERSON_VARIABLES
)


def labor_supply_response(households: pd.DataFrame, people: pd.DataFrame) -> dict[str, Any]:
    """v1's `labor_supply_response` section."""
    if not _has(households, HOUSEHOLD_LSR_COLUMNS) or not _has(people, PERSON_LSR_COLUMNS):
        return _no_response(households)
    person_weight = floats(people["person_weight"])

    def change(frame: pd.DataFrame, variable: str, weight: Floats) -> float:
        reform, baseline = values(frame, "reform", variable), values(frame, "baseline", variable)
        return float((weight * reform).sum() - (weight * baseline).sum())

    def total(policy: str, variable: str) -> float:
        return float((person_weight * values(people, policy, variable)).sum())

    income_lsr = change(people, INCOME, person_weight)
    substitution_lsr = change(people, SUBSTITUTION, person_weight)
    weight = floats(households["household_weight"])
    income = values(households, "reform", INCOME) - values(households, "baseline", INCOME)
    substitution = values(households, "reform", SUBSTITUTION) - values(
        households, "baseline", SUBSTITUTION
    )
    earnings = values(households, "baseline", "employment_income") + values(
        households, "baseline", "self_employment_income"
    )
    original = earnings - (substitution + income)
    decile = deciles(households)
    hours = {policy: total(policy, HOURS) for policy in POLICIES}
    return {
        "substitution_lsr": substitution_lsr,
        "income_lsr": income_lsr,
        "relative_lsr": {
            "income": ratio(float((weight * income).sum()), float((weight * original).sum())),
            "substitution": ratio(
                float((weight * substitution).sum()), float((weight * original).sum())
            ),
        },
        "total_change": substitution_lsr + income_lsr,
        "revenue_change": 0.0,
        "decile": {
            "average": {
                "income": _by_decile(weight * income, weight, decile),
                "substitution": _by_decile(weight * substitution, weight, decile),
            },
            "relative": {
                "income": _by_decile(weight * income, weight * original, decile, ranked=True),
                "substitution": _by_decile(
                    weight * substitution, weight * original, decile, ranked=True
                ),
            },
        },
        "hours": {
            "baseline": hours["baseline"],
            "reform": hours["reform"],
            "change": hours["reform"] - hours["baseline"],
            "income_effect": change(people, HOURS_INCOME, person_weight),
            "substitution_effect": change(people, HOURS_SUBSTITUTION, person_weight),
        },
    }


def _has(frame: pd.DataFrame, columns: tuple[str, ...]) -> bool:
    return all(column in frame.columns for column in columns)


def _by_decile(
    numerator: Floats, denominator: Floats, decile: np.ndarray, ranked: bool = False
) -> dict[str, Number]:
    """Σ_d numerator / Σ_d denominator per decile present (1..10 only when `ranked`)."""
    present = [int(value) for value in np.unique(decile) if value > 0 or not ranked]
    return {
        str(value): ratio(
            float(numerator[decile == value].sum()), float(denominator[decile == value].sum())
        )
        for value in present
    }


def _no_response(households: pd.DataFrame) -> dict[str, Any]:
    present = [int(value) for value in np.unique(deciles(households))]
    zero_by_decile = {str(value): 0.0 for value in present}
    zero_ranked = {str(value): 0.0 for value in present if value > 0}
    return {
        "substitution_lsr": 0.0,
        "income_lsr": 0.0,
        "relative_lsr": {"income": 0.0, "substitution": 0.0},
        "total_change": 0.0,
        "revenue_change": 0.0,
        "decile": {
            "average": {"income": zero_by_decile, "substitution": dict(zero_by_decile)},
            "relative": {"income": zero_ranked, "substitution": dict(zero_ranked)},
        },
        "hours": {
            "baseline": 0.0,
            "reform": 0.0,
            "change": 0.0,
            "income_effect": 0.0,
            "substitution_effect": 0.0,
        },
    }
