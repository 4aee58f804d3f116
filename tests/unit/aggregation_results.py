"""Household and person results shaped like the simulation service's (float32 money),
written as its results files, and the tolerance the numbers made of them are held to."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np
import pandas as pd

from contracts.results.v1 import PROGRAM_VARIABLES

POLICIES = ("baseline", "reform")
STATES = ("CA", "TX", "NY", "FL", "WY")
RACES = ("WHITE", "BLACK", "HISPANIC", "OTHER")


def household_frame(
    weight: list[float],
    people: list[int],
    baseline: list[float],
    reform: list[float],
    decile: list[int] | None = None,
    states: list[str] | None = None,
) -> pd.DataFrame:
    """Households with float32 money; other money columns derived from net income."""
    count = np.asarray(people)
    frame = pd.DataFrame(
        {
            "household_id": np.arange(len(weight)),
            "household_weight": np.asarray(weight, dtype=np.float32),
            "household_count_people": count,
            "state_code": states if states is not None else "TX",
            "household_income_decile": np.asarray(
                decile if decile is not None else pe_deciles(baseline, weight, people)
            ),
        }
    )
    for policy, income in (("baseline", baseline), ("reform", reform)):
        net = np.asarray(income, dtype=np.float32)
        frame[f"{policy}_household_net_income"] = net
        frame[f"{policy}_equiv_household_net_income"] = (net / np.sqrt(count)).astype(np.float32)
        frame[f"{policy}_household_market_income"] = net
        frame[f"{policy}_household_tax"] = np.float32(0.2) * np.maximum(net, 0)
        frame[f"{policy}_household_benefits"] = np.float32(0.05) * np.maximum(-net, 100)
        frame[f"{policy}_household_state_income_tax"] = np.float32(0.04) * np.maximum(net, 0)
        for position, program in enumerate(PROGRAM_VARIABLES):
            share = np.float32(0.01 * (position + 1))
            frame[f"{policy}_{program}"] = share * np.maximum(net, 0) + np.float32(position)
    return frame


def pe_deciles(baseline: list[float], weight: list[float], people: list[int]) -> list[int]:
    """Deciles of net income over people, -1 for negative incomes (policyengine-us's rule)."""
    frame = pd.DataFrame({"x": baseline, "p": np.asarray(weight) * np.asarray(people)})
    below = frame.groupby("x")["p"].sum().sort_index().cumsum() / frame["p"].sum()
    share = frame["x"].map(below)
    decile = np.minimum(np.ceil(share * 10), 10).astype(int)
    return list(np.where(frame["x"] < 0, -1, decile))


def person_frame(
    households: pd.DataFrame, ages: list[float], rng: np.random.Generator
) -> pd.DataFrame:
    counts = households["household_count_people"].to_numpy()
    household_of = np.repeat(households["household_id"].to_numpy(), counts)
    assert len(ages) == len(household_of)
    frame = pd.DataFrame(
        {
            "person_id": np.arange(len(ages)),
            "household_id": household_of,
            "person_weight": households["household_weight"].to_numpy()[
                np.repeat(np.arange(len(households)), counts)
            ],
            "age": np.asarray(ages, dtype=np.float32),
            "is_male": rng.random(len(ages)) < 0.5,
        }
    )
    for policy in POLICIES:
        poor = rng.random(len(ages)) < 0.2
        frame[f"{policy}_in_poverty"] = poor
        frame[f"{policy}_in_deep_poverty"] = poor & (rng.random(len(ages)) < 0.5)
    return frame


def random_frames(
    seed: int, households: int = 3000, race: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A population like the model's: float32 money, some negative incomes, ties, no-change.

    With `race`, people carry policyengine-us `race` names, as from a dataset that has them.
    """
    rng = np.random.default_rng(seed)
    people = rng.integers(1, 7, households)
    weight = rng.uniform(5, 4000, households)
    baseline = np.round(rng.lognormal(10.6, 0.9, households) - 9000, -1)
    baseline[rng.random(households) < 0.05] = 0.0
    change = np.where(rng.random(households) < 0.3, 0.0, rng.normal(0, 1500, households))
    reform = baseline + change
    states = list(rng.choice(STATES, households))
    frame = household_frame(list(weight), list(people), list(baseline), list(reform), states=states)
    ages = list(rng.uniform(0, 95, int(people.sum())))
    person = person_frame(frame, ages, rng)
    if race:
        person["race"] = rng.choice(RACES, len(person))
    return frame, person


TOLERANCE = 1e-9


def close(actual: float | None, expected: float, scale: float = 0.0) -> bool:
    """Equal within 1e-9 of the larger of |expected| and `scale`.

    `scale` is the size of the terms summed: a difference of large totals is only
    known to that precision, whatever the order of summation. Where the definition
    gives no finite number (an empty group, a zero denominator) the report has null.
    """
    if not math.isfinite(expected):
        return actual is None
    assert actual is not None, f"expected {expected}, got None"
    return abs(actual - expected) <= TOLERANCE * max(abs(expected), scale, 1e-300)


def weighted_percentile(x: pd.Series[Any], w: pd.Series[Any], percent: float) -> float:
    """The smallest `x` at which the cumulative weight `w` reaches `percent` of the total."""
    frame = pd.DataFrame({"x": x, "w": w}).sort_values("x", kind="mergesort")
    cumulative = frame["w"].cumsum()
    reached = cumulative >= cumulative.iloc[-1] * percent / 100
    return float(frame["x"][reached.to_numpy()].iloc[0])


def parquet(frame: pd.DataFrame) -> bytes:
    """`frame` as a results file: Parquet, without the index."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def as_json(value: Any) -> Any:
    """`value` as it reads after a trip through JSON (which has no NaN), as served."""
    return json.loads(json.dumps(value, allow_nan=False))
