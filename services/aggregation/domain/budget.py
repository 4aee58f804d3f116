"""Budgetary impact: totals of taxes and benefits, overall, per program and over a window."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from contracts.results.v1 import PROGRAM_VARIABLES, policy_column
from services.aggregation.domain.columns import Number, floats, number, numbers, values

WINDOW_KEYS: tuple[str, ...] = (
    "budgetary_impact",
    "tax_revenue_impact",
    "state_tax_revenue_impact",
    "benefit_spending_impact",
)


def total(households: pd.DataFrame, policy: str, variable: str) -> float:
    """Σ household_weight · variable under `policy`."""
    weight = floats(households["household_weight"])
    return float((weight * values(households, policy, variable)).sum())


def change(households: pd.DataFrame, variable: str) -> float:
    """Reform total minus baseline total of `variable`."""
    return total(households, "reform", variable) - total(households, "baseline", variable)


def budget_impact(households: pd.DataFrame) -> dict[str, Number]:
    """v1's `budget`."""
    tax = change(households, "household_tax")
    benefits = change(households, "household_benefits")
    return numbers(
        {
            "budgetary_impact": tax - benefits,
            "tax_revenue_impact": tax,
            "state_tax_revenue_impact": change(households, "household_state_income_tax"),
            "benefit_spending_impact": benefits,
            "households": float(floats(households["household_weight"]).sum()),
            "baseline_net_income": total(households, "baseline", "household_net_income"),
        }
    )


def detailed_budget(households: pd.DataFrame) -> dict[str, dict[str, Number]]:
    """v1's `detailed_budget`: per program present in the results, its totals and change."""
    programs: dict[str, dict[str, Number]] = {}
    for program in PROGRAM_VARIABLES:
        if not all(policy_column(p, program) in households for p in ("baseline", "reform")):
            continue
        baseline = total(households, "baseline", program)
        reform = total(households, "reform", program)
        programs[program] = numbers(
            {"baseline": baseline, "reform": reform, "difference": reform - baseline}
        )
    return programs


def budget_window(budgets: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """Each year's budget numbers, first year first, and their sums over the window."""
    years = sorted(budgets)
    rows = [{"year": year, **{key: budgets[year][key] for key in WINDOW_KEYS}} for year in years]
    totals: dict[str, Number] = {}
    for key in WINDOW_KEYS:
        figures = [budgets[year][key] for year in years]
        totals[key] = None if any(f is None for f in figures) else number(sum(figures))
    return {"years": rows, "total": totals}
