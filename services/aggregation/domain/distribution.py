"""Who gains and who loses: v1's decile and intra-decile impacts, and a compact summary
of the distribution of household net income changes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from services.aggregation.domain.columns import (
    INCOME_DECILE,
    Floats,
    Number,
    deciles,
    floats,
    net_income,
    number,
    people_weight,
    ratio,
)

INTRA_DECILE_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("Lose more than 5%", -np.inf, -0.05),
    ("Lose less than 5%", -0.05, -1e-3),
    ("No change", -1e-3, 1e-3),
    ("Gain less than 5%", 1e-3, 0.05),
    ("Gain more than 5%", 0.05, np.inf),
)
# Relative change beyond which a household gains or loses (v1's "No change" bucket).
NO_CHANGE = 1e-3
SUMMARY_PERCENTILES: tuple[int, ...] = (5, 10, 25, 50, 75, 90, 95)
HISTOGRAM_BINS = 20


def relative_change(households: pd.DataFrame) -> Floats:
    """v1's income change: (reform - baseline) / max(baseline, 1)."""
    baseline = net_income(households, "baseline")
    return (net_income(households, "reform") - baseline) / np.maximum(baseline, 1.0)


def decile_impact(
    households: pd.DataFrame, column: str = INCOME_DECILE
) -> dict[str, dict[str, Number]]:
    """v1's `decile` (or `wealth_decile` by the wealth decile `column`): per baseline decile
    present (negative incomes left out)."""
    decile = deciles(households, column)
    ranked = decile >= 0
    decile = decile[ranked]
    weight = floats(households["household_weight"])[ranked]
    baseline = net_income(households, "baseline")[ranked]
    change = net_income(households, "reform")[ranked] - baseline
    average: dict[str, Number] = {}
    relative: dict[str, Number] = {}
    for value in np.unique(decile):
        members = decile == value
        gained = float((weight[members] * change[members]).sum())
        average[str(value)] = ratio(gained, float(weight[members].sum()))
        relative[str(value)] = ratio(gained, float((weight[members] * baseline[members]).sum()))
    return {"relative": relative, "average": average}


def intra_decile_impact(households: pd.DataFrame, column: str = INCOME_DECILE) -> dict[str, Any]:
    """v1's `intra_decile` (or `intra_wealth_decile` by the wealth decile `column`): shares
    of people per change bucket, per decile 1..10 and `all`."""
    change = relative_change(households)
    people = people_weight(households)
    decile = deciles(households, column)
    by_decile: dict[str, list[float]] = {}
    for label, lower, upper in INTRA_DECILE_BUCKETS:
        in_bucket = (change > lower) & (change <= upper)
        shares: list[float] = []
        for value in range(1, 11):
            in_decile = decile == value
            everyone = float(people[in_decile].sum())
            bucket = float(people[in_decile & in_bucket].sum())
            shares.append(0.0 if everyone == 0 and bucket == 0 else bucket / everyone)
        by_decile[label] = shares
    return {
        "deciles": by_decile,
        "all": {label: sum(shares) / 10 for label, shares in by_decile.items()},
    }


def weighted_percentile(values: Floats, weights: Floats, percent: float) -> float:
    """The smallest value whose cumulative weight share reaches `percent`%."""
    order = np.argsort(values, kind="mergesort")
    cumulative = np.cumsum(weights[order])
    position = int(np.searchsorted(cumulative, cumulative[-1] * percent / 100, side="left"))
    return float(values[order][min(position, len(values) - 1)])


def distribution_summary(households: pd.DataFrame) -> dict[str, Any]:
    """Household-weighted summary of Δ = reform - baseline household net income.

    Percentiles as `weighted_percentile`; the histogram has HISTOGRAM_BINS equal bins
    from the 1st to the 99th percentile (left-closed, the last also right-closed),
    holding weighted households, with the households below and above counted apart.
    """
    weight = floats(households["household_weight"])
    change = net_income(households, "reform") - net_income(households, "baseline")
    households_total = float(weight.sum())
    if households_total == 0:
        return {"percentiles": {}, "histogram": None, "mean": None}
    low = weighted_percentile(change, weight, 1)
    high = weighted_percentile(change, weight, 99)
    if low == high:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    counts, _ = np.histogram(change, bins=edges, weights=weight)
    return {
        "mean": ratio(float((weight * change).sum()), households_total),
        "percentiles": {
            str(p): number(weighted_percentile(change, weight, p)) for p in SUMMARY_PERCENTILES
        },
        "histogram": {
            "edges": [float(edge) for edge in edges],
            "households": [float(count) for count in counts],
            "below": float(weight[change < low].sum()),
            "above": float(weight[change > high].sum()),
        },
    }
