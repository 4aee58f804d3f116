"""The impact in each state: budget, net income change, winners and losers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from services.aggregation.domain.budget import budget_impact
from services.aggregation.domain.columns import Number, floats, net_income, people_weight, ratio
from services.aggregation.domain.distribution import NO_CHANGE, relative_change

StateImpact = dict[str, Number]


def state_impact(households: pd.DataFrame) -> dict[str, StateImpact]:
    """Per `state_code` present: budget numbers, net income change, shares of people gaining,
    losing and unchanged (v1's ±0.1% rule)."""
    state = households["state_code"].astype(str).to_numpy()
    result: dict[str, StateImpact] = {}
    for code in sorted(np.unique(state)):
        members = households[state == code]
        budget = budget_impact(members)
        weight = floats(members["household_weight"])
        baseline = net_income(members, "baseline")
        gained = float((weight * (net_income(members, "reform") - baseline)).sum())
        people = people_weight(members)
        everyone = float(people.sum())
        change = relative_change(members)
        result[code] = {
            "households": budget["households"],
            "people": everyone,
            "budgetary_impact": budget["budgetary_impact"],
            "tax_revenue_impact": budget["tax_revenue_impact"],
            "state_tax_revenue_impact": budget["state_tax_revenue_impact"],
            "benefit_spending_impact": budget["benefit_spending_impact"],
            "net_income_change": gained,
            "average_household_net_income_change": ratio(gained, float(weight.sum())),
            "relative_net_income_change": ratio(gained, float((weight * baseline).sum())),
            "winners_share": ratio(float(people[change > NO_CHANGE].sum()), everyone),
            "losers_share": ratio(float(people[change <= -NO_CHANGE].sum()), everyone),
        }
    return result
