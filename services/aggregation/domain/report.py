"""The impact report of a simulation, with PolicyEngine API v1's economy-output keys.

Definitions follow PolicyEngine API v1 (`compare_economic_outputs` over two
`calculate_single_economy` summaries, computed with microdf 1.5). Money is read as the
model's float32 and computed in float64. Notation: w = household_weight,
n = household_count_people, p = person_weight; b/r = baseline/reform value;
Δ = r - b of household_net_income; d = the baseline `household_income_decile`.
Reform totals use the same weights as the baseline.

budget
    tax_revenue_impact        Σw·household_tax(r) - Σw·household_tax(b)
    state_tax_revenue_impact  the same with household_state_income_tax (v1 sums it over
                              tax units with tax_unit_weight, which policyengine-us
                              takes from the household: the same total)
    benefit_spending_impact   the same with household_benefits
    budgetary_impact          tax_revenue_impact - benefit_spending_impact
    households                Σw
    baseline_net_income       Σw·household_net_income(b)

decile — households with d < 0 (negative baseline net income) are left out; the keys
    are the deciles present, as strings (JSON object keys)
    average[d]   Σ_d w·Δ / Σ_d w           (household-weighted mean change)
    relative[d]  Σ_d w·Δ / Σ_d w·b

poverty — person-weighted SPM rates from people.parquet, p as weight, nested as v1
    nests them (report["poverty"]["poverty"], report["poverty"]["deep_poverty"])
    poverty.{all,child,adult,senior}.{baseline,reform}       Σp·in_poverty / Σp
    deep_poverty.{all,child,adult,senior}.{baseline,reform}  the same with in_deep_poverty
    age truncated to whole years: child < 18, adult 18-64, senior ≥ 65

poverty_by_gender — the same rates for is_male (male) and not is_male (female)

inequality — x = equiv_household_net_income with negatives set to 0, per policy;
    s = a household's rank share: Σ w·n over households with x' <= x, over Σ w·n
    gini              weighted Gini of x with weights w·n (people), 0 when Σwnx = 0:
                      Σ_j Σ_k w_j n_j w_k n_k |x_j - x_k| / (2 · Σwn · Σwnx)
    top_10_pct_share  Σ_top w·x / Σ w·x over households with ceil(10·s) = 10, i.e.
                      s > 90% (ranked by people, summed with household weights, as v1)
    top_1_pct_share   the same with ceil(100·s) = 100, i.e. s > 99%

intra_decile — c = Δ / max(b, 1) per household; per decile 1..10 the share of people
    (w·n) whose c falls in (-∞,-5%], (-5%,-0.1%], (-0.1%,0.1%], (0.1%,5%], (5%,∞)
    ("Lose more than 5%", "Lose less than 5%", "No change", "Gain less than 5%",
    "Gain more than 5%"), 0 for an empty decile; `all` is the plain mean of the ten
    decile shares.

A number v1 would return as NaN or infinity (an empty group, a zero denominator) is
null here, because JSON has neither. Keys v1 fills only for the UK or from data the results
contract lacks (race, wealth, labour supply) are not produced.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from contracts.results.v1 import policy_column
from services.aggregation.domain.inequality import Floats, gini, quantile_rank, share_of_total

HOUSEHOLD_COLUMNS: tuple[str, ...] = (
    "household_weight",
    "household_count_people",
    "household_income_decile",
    *(
        policy_column(policy, variable)
        for policy in ("baseline", "reform")
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
        for policy in ("baseline", "reform")
        for variable in ("in_poverty", "in_deep_poverty")
    ),
)

INTRA_DECILE_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("Lose more than 5%", -np.inf, -0.05),
    ("Lose less than 5%", -0.05, -1e-3),
    ("No change", -1e-3, 1e-3),
    ("Gain less than 5%", 1e-3, 0.05),
    ("Gain more than 5%", 0.05, np.inf),
)

Report = dict[str, Any]


class ResultsError(ValueError):
    """The results do not hold what the report needs."""


def build_report(households: pd.DataFrame, people: pd.DataFrame) -> Report:
    """The impact report of a simulation from its household and person results."""
    _require(households, HOUSEHOLD_COLUMNS, "households")
    _require(people, PERSON_COLUMNS, "people")
    return {
        "budget": budget_impact(households),
        "decile": decile_impact(households),
        "inequality": inequality_impact(households),
        "poverty": poverty_impact(people),
        "poverty_by_gender": poverty_by_gender(people),
        "intra_decile": intra_decile_impact(households),
    }


def budget_impact(households: pd.DataFrame) -> dict[str, float | None]:
    weight = _floats(households["household_weight"])

    def change(variable: str) -> float:
        return _total(households, "reform", variable, weight) - _total(
            households, "baseline", variable, weight
        )

    tax = change("household_tax")
    benefits = change("household_benefits")
    return _numbers(
        {
            "budgetary_impact": tax - benefits,
            "tax_revenue_impact": tax,
            "state_tax_revenue_impact": change("household_state_income_tax"),
            "benefit_spending_impact": benefits,
            "households": float(weight.sum()),
            "baseline_net_income": _total(households, "baseline", "household_net_income", weight),
        }
    )


def decile_impact(households: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    decile = _deciles(households)
    ranked = decile >= 0
    decile = decile[ranked]
    weight = _floats(households["household_weight"])[ranked]
    baseline = _income(households, "baseline")[ranked]
    change = _income(households, "reform")[ranked] - baseline
    average: dict[str, float | None] = {}
    relative: dict[str, float | None] = {}
    for value in np.unique(decile):
        members = decile == value
        gained = float((weight[members] * change[members]).sum())
        average[str(value)] = _ratio(gained, float(weight[members].sum()))
        relative[str(value)] = _ratio(gained, float((weight[members] * baseline[members]).sum()))
    return {"relative": relative, "average": average}


def inequality_impact(households: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    household_weight = _floats(households["household_weight"])
    person_weight = household_weight * _floats(households["household_count_people"])
    result: dict[str, dict[str, float | None]] = {
        "gini": {},
        "top_10_pct_share": {},
        "top_1_pct_share": {},
    }
    for policy in ("baseline", "reform"):
        income = np.maximum(
            _floats(households[policy_column(policy, "equiv_household_net_income")]), 0.0
        )
        if person_weight.sum() == 0:
            continue
        top_10 = quantile_rank(income, person_weight, 10) == 10
        top_1 = quantile_rank(income, person_weight, 100) == 100
        result["gini"][policy] = _number(gini(income, person_weight))
        result["top_10_pct_share"][policy] = _number(
            share_of_total(income, household_weight, top_10)
        )
        result["top_1_pct_share"][policy] = _number(share_of_total(income, household_weight, top_1))
    for measure in result.values():
        for policy in ("baseline", "reform"):
            measure.setdefault(policy, None)
    return result


def poverty_impact(people: pd.DataFrame) -> dict[str, dict[str, dict[str, float | None]]]:
    age = _floats(people["age"]).astype(np.int64)
    groups = {
        "child": age < 18,
        "adult": (age >= 18) & (age < 65),
        "senior": age >= 65,
        "all": np.ones(len(people), dtype=bool),
    }
    return _poverty_rates(people, groups)


def poverty_by_gender(people: pd.DataFrame) -> dict[str, dict[str, dict[str, float | None]]]:
    male = people["is_male"].to_numpy(dtype=bool)
    return _poverty_rates(people, {"male": male, "female": ~male})


def intra_decile_impact(households: pd.DataFrame) -> dict[str, Any]:
    baseline = _income(households, "baseline")
    change = (_income(households, "reform") - baseline) / np.maximum(baseline, 1.0)
    people = _floats(households["household_weight"]) * _floats(households["household_count_people"])
    decile = _deciles(households)
    deciles: dict[str, list[float]] = {}
    for label, lower, upper in INTRA_DECILE_BUCKETS:
        in_bucket = (change > lower) & (change <= upper)
        shares: list[float] = []
        for value in range(1, 11):
            in_decile = decile == value
            everyone = float(people[in_decile].sum())
            bucket = float(people[in_decile & in_bucket].sum())
            shares.append(0.0 if everyone == 0 and bucket == 0 else bucket / everyone)
        deciles[label] = shares
    return {
        "deciles": deciles,
        "all": {label: sum(shares) / 10 for label, shares in deciles.items()},
    }


def _poverty_rates(
    people: pd.DataFrame, groups: dict[str, npt.NDArray[np.bool_]]
) -> dict[str, dict[str, dict[str, float | None]]]:
    weight = _floats(people["person_weight"])
    result: dict[str, dict[str, dict[str, float | None]]] = {}
    for measure in ("in_poverty", "in_deep_poverty"):
        rates: dict[str, dict[str, float | None]] = {}
        for group, members in groups.items():
            group_weight = float(weight[members].sum())
            rates[group] = {
                policy: _ratio(
                    float(
                        (
                            weight[members]
                            * _floats(people[policy_column(policy, measure)])[members]
                        ).sum()
                    ),
                    group_weight,
                )
                for policy in ("baseline", "reform")
            }
        result[measure.removeprefix("in_")] = rates
    return result


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ResultsError(f"{name} results lack columns: {', '.join(missing)}")


def _floats(column: pd.Series[Any]) -> Floats:
    return column.to_numpy(dtype=np.float64)


def _income(households: pd.DataFrame, policy: str) -> Floats:
    return _floats(households[policy_column(policy, "household_net_income")])


def _deciles(households: pd.DataFrame) -> npt.NDArray[np.int64]:
    return households["household_income_decile"].to_numpy(dtype=np.int64)


def _total(households: pd.DataFrame, policy: str, variable: str, weight: Floats) -> float:
    return float((weight * _floats(households[policy_column(policy, variable)])).sum())


def _ratio(numerator: float, denominator: float) -> float | None:
    if denominator == 0:
        return None
    return _number(numerator / denominator)


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _numbers(values: dict[str, float]) -> dict[str, float | None]:
    return {key: _number(value) for key, value in values.items()}
