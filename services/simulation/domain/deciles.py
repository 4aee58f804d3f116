"""`household_income_decile` over a whole population, from partitions' results.

policyengine-us ranks households by baseline `household_net_income`, weighted by
household weight times people, with microdf, over the simulation it runs; a
partition ranks only its own households. When the last partition of a year is done,
the year's households are ranked again here, with policyengine-us's own formula and
in the dataset's household order (the order decides how float weights are summed),
so the column equals, to the bit, what one simulation of the whole population gives.

`household_wealth_decile` (when the results carry `household_net_worth`) is v1's wealth
decile: net worth ranked with the same weights, clipped to 1..10, over the whole
population in the same way.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from microdf import MicroSeries  # type: ignore[import-untyped]

DECILE = "household_income_decile"
INCOME = "baseline_household_net_income"
WEALTH_DECILE = "household_wealth_decile"
WEALTH = "household_net_worth"


def _decile_rank(values: np.ndarray, households: pd.DataFrame) -> np.ndarray:
    """microdf's decile rank of `values`, weighted by household weight times people."""
    weights = (
        households["household_weight"].to_numpy() * households["household_count_people"].to_numpy()
    )
    with warnings.catch_warnings():
        # microdf warns that `.values` drops the weights: wanted, as in policyengine-us.
        warnings.simplefilter("ignore", UserWarning)
        ranked: np.ndarray = np.asarray(MicroSeries(values, weights=weights).decile_rank().values)
    return ranked


def income_deciles(households: pd.DataFrame) -> np.ndarray:
    """policyengine-us's `household_income_decile` formula over these rows, in this order."""
    income = households[INCOME].to_numpy()
    ranked: np.ndarray = np.where(income < 0, -1, _decile_rank(income, households))
    return ranked.astype(households[DECILE].to_numpy().dtype)


def wealth_deciles(households: pd.DataFrame) -> np.ndarray:
    """v1's `household_wealth_decile` over these rows, in this order: 1..10."""
    ranked: np.ndarray = np.clip(_decile_rank(households[WEALTH].to_numpy(), households), 1, 10)
    return ranked.astype(np.int64)


def deciles_in_dataset_order(
    households: pd.DataFrame, household_ids: np.ndarray
) -> dict[str, np.ndarray]:
    """Each row's deciles (income, and wealth when the rows have net worth), ranked over
    every row as if they were in the dataset's order."""
    position = pd.Index(household_ids).get_indexer(households["household_id"].to_numpy())
    if (position < 0).any():
        raise ValueError("results hold households the dataset does not")
    order = np.argsort(position, kind="stable")
    in_order = households.iloc[order]
    ranks = {DECILE: income_deciles(in_order)}
    if WEALTH in households.columns:
        ranks[WEALTH_DECILE] = wealth_deciles(in_order)
    deciles: dict[str, np.ndarray] = {}
    for column, ranked in ranks.items():
        deciles[column] = np.empty_like(ranked)
        deciles[column][order] = ranked
    return deciles
