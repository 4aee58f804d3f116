"""`household_income_decile` over a whole population, from partitions' results.

policyengine-us ranks households by baseline `household_net_income`, weighted by
household weight times people, with microdf, over the simulation it runs; a
partition ranks only its own households. When the last partition of a year is done,
the year's households are ranked again here, with policyengine-us's own formula and
in the dataset's household order (the order decides how float weights are summed),
so the column equals, to the bit, what one simulation of the whole population gives.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from microdf import MicroSeries  # type: ignore[import-untyped]

DECILE = "household_income_decile"
INCOME = "baseline_household_net_income"


def income_deciles(households: pd.DataFrame) -> np.ndarray:
    """policyengine-us's `household_income_decile` formula over these rows, in this order."""
    income = households[INCOME].to_numpy()
    weights = (
        households["household_weight"].to_numpy() * households["household_count_people"].to_numpy()
    )
    with warnings.catch_warnings():
        # microdf warns that `.values` drops the weights: wanted, as in policyengine-us.
        warnings.simplefilter("ignore", UserWarning)
        decile = MicroSeries(income, weights=weights).decile_rank().values
    ranked: np.ndarray = np.where(income < 0, -1, decile)
    return ranked.astype(households[DECILE].to_numpy().dtype)


def deciles_in_dataset_order(households: pd.DataFrame, household_ids: np.ndarray) -> np.ndarray:
    """Each row's decile, ranked over every row as if they were in the dataset's order."""
    position = pd.Index(household_ids).get_indexer(households["household_id"].to_numpy())
    if (position < 0).any():
        raise ValueError("results hold households the dataset does not")
    order = np.argsort(position, kind="stable")
    ranked = income_deciles(households.iloc[order])
    deciles = np.empty_like(ranked)
    deciles[order] = ranked
    return deciles
