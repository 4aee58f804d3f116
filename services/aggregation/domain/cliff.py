"""v1's cliff impact: how much income people lose at tax-benefit cliffs, and how many.

Present when the people carry, per policy, the outputs contracts.results.v1.CLIFF_OUTPUTS
(a simulation asks for them: they cost a marginal-tax-rate run per adult). With
p = person_weight, per policy:

    cliff_gap    Σp·cliff_gap: the income lost if employment income rose by the
                 marginal-rate delta (gov.simulation.marginal_tax_rate_delta)
    cliff_share  Σp·is_on_cliff / Σp·is_adult
"""

from __future__ import annotations

import pandas as pd

from contracts.results.v1 import CLIFF_OUTPUTS, policy_column
from services.aggregation.domain.columns import POLICIES, Number, floats, number, ratio, values

CLIFF_COLUMNS: tuple[str, ...] = tuple(
    policy_column(policy, variable) for policy in POLICIES for variable in CLIFF_OUTPUTS
)


def cliff_impact(people: pd.DataFrame) -> dict[str, dict[str, Number]] | None:
    """{baseline, reform: {cliff_gap, cliff_share}}, or None without the cliff columns."""
    if not all(column in people.columns for column in CLIFF_COLUMNS):
        return None
    weight = floats(people["person_weight"])
    return {
        policy: {
            "cliff_gap": number(float((weight * values(people, policy, "cliff_gap")).sum())),
            "cliff_share": ratio(
                float((weight * values(people, policy, "is_on_cliff")).sum()),
                float((weight * values(people, policy, "is_adult")).sum()),
            ),
        }
        for policy in POLICIES
    }
