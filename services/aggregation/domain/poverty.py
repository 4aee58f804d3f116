"""SPM poverty rates by age, gender and race, person-weighted, as v1 computes them."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from services.aggregation.domain.columns import POLICIES, Number, floats, ratio, values

Rates = dict[str, dict[str, Number]]
Groups = dict[str, npt.NDArray[np.bool_]]

# v1's keys for policyengine-us `race` values.
RACES: tuple[tuple[str, str], ...] = (
    ("white", "WHITE"),
    ("black", "BLACK"),
    ("hispanic", "HISPANIC"),
    ("other", "OTHER"),
)


def poverty_impact(people: pd.DataFrame) -> dict[str, Rates]:
    """v1's `poverty`: `poverty` and `deep_poverty` for child, adult, senior and all."""
    age = floats(people["age"]).astype(np.int64)
    groups = {
        "child": age < 18,
        "adult": (age >= 18) & (age < 65),
        "senior": age >= 65,
        "all": np.ones(len(people), dtype=bool),
    }
    return {
        "poverty": rates(people, groups, "in_poverty"),
        "deep_poverty": rates(people, groups, "in_deep_poverty"),
    }


def poverty_by_gender(people: pd.DataFrame) -> dict[str, Rates]:
    """v1's `poverty_by_gender`: the same rates for male and female."""
    male = people["is_male"].to_numpy(dtype=bool)
    groups = {"male": male, "female": ~male}
    return {
        "poverty": rates(people, groups, "in_poverty"),
        "deep_poverty": rates(people, groups, "in_deep_poverty"),
    }


def poverty_by_race(people: pd.DataFrame) -> dict[str, Rates]:
    """v1's `poverty_by_race`: the poverty rate (not deep) per race."""
    race = people["race"].astype(str).to_numpy()
    return {"poverty": rates(people, {key: race == name for key, name in RACES}, "in_poverty")}


def rates(people: pd.DataFrame, groups: Groups, measure: str) -> Rates:
    """Σp·measure / Σp per group and policy, p the person weight."""
    weight = floats(people["person_weight"])
    result: Rates = {}
    for group, members in groups.items():
        group_weight = float(weight[members].sum())
        result[group] = {
            policy: ratio(
                float((weight[members] * values(people, policy, measure)[members]).sum()),
                group_weight,
            )
            for policy in POLICIES
        }
    return result
