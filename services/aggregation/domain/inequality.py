"""Weighted distribution statistics with microdf's semantics (what PolicyEngine uses).

All functions take float64 numpy arrays of values and non-negative weights.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


def weighted_rank_share(values: Floats, weights: Floats) -> Floats:
    """Each row's share of total weight held by rows with a value <= its own.

    Tied values share the rank of the end of their group (microdf's `rank(pct=True)`),
    capped at 1. Raises ZeroDivisionError when the total weight is zero.
    """
    total = float(weights.sum())
    if total == 0:
        raise ZeroDivisionError("cannot rank with zero total weight")
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    cumulative = np.cumsum(weights[order])
    group_end = np.searchsorted(sorted_values, sorted_values, side="right") - 1
    shares = np.empty_like(cumulative)
    shares[order] = cumulative[group_end] / total
    return np.minimum(shares, 1.0)


def quantile_rank(values: Floats, weights: Floats, quantiles: int) -> Floats:
    """Weighted quantile group 1..quantiles (10: decile, 100: percentile)."""
    return np.minimum(np.ceil(weighted_rank_share(values, weights) * quantiles), quantiles)


def gini(values: Floats, weights: Floats) -> float:
    """Weighted Gini index: Σ_j Σ_k w_j w_k |x_j - x_k| / (2 · Σw · Σwx); 0 if Σwx = 0.

    This is the area formula microdf evaluates on the sorted Lorenz curve, written
    as Σ_k w_k (x_k · W_{k-1} - X_{k-1}) with W, X the running sums of w and w·x,
    which avoids its subtraction of large products.
    """
    total_income = float((values * weights).sum())
    if total_income == 0:
        return 0.0
    order = np.argsort(values, kind="mergesort")
    x, w = values[order], weights[order]
    weight_below = np.concatenate(([0.0], np.cumsum(w)[:-1]))
    income_below = np.concatenate(([0.0], np.cumsum(x * w)[:-1]))
    area = float((w * (x * weight_below - income_below)).sum())
    return area / (total_income * float(w.sum()))


def share_of_total(values: Floats, weights: Floats, selected: npt.NDArray[np.bool_]) -> float:
    """Σ w·x over the selected rows divided by Σ w·x over all rows (NaN if that is 0)."""
    total = float((values * weights).sum())
    if total == 0:
        return float("nan")
    return float((values[selected] * weights[selected]).sum()) / total


def inequality_impact(
    equivalised_income: dict[str, Floats], household_weight: Floats, person_weight: Floats
) -> dict[str, dict[str, float | None]]:
    """v1's `inequality`: per policy, Gini and top shares of equivalised income (negatives 0).

    Ranks and the Gini weigh households by people (`person_weight` = weight · people);
    top shares sum income with household weights, as v1 does.
    """
    result: dict[str, dict[str, float | None]] = {
        "gini": {},
        "top_10_pct_share": {},
        "top_1_pct_share": {},
    }
    for policy, raw in equivalised_income.items():
        if person_weight.sum() == 0:
            for measure in result.values():
                measure[policy] = None
            continue
        income = np.maximum(raw, 0.0)
        top_10 = quantile_rank(income, person_weight, 10) == 10
        top_1 = quantile_rank(income, person_weight, 100) == 100
        result["gini"][policy] = _finite(gini(income, person_weight))
        result["top_10_pct_share"][policy] = _finite(
            share_of_total(income, household_weight, top_10)
        )
        result["top_1_pct_share"][policy] = _finite(share_of_total(income, household_weight, top_1))
    return result


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
