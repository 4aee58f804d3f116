"""The impact report of a simulation, with PolicyEngine API v1's economy-output keys.

Definitions follow PolicyEngine API v1 (`compare_economic_outputs` over two
`calculate_single_economy` summaries, computed with microdf). Money is read as the
model's float32 and computed in float64. Notation: w = household_weight,
n = household_count_people, p = person_weight; b/r = baseline/reform value;
Δ = r - b of household_net_income; d = the baseline `household_income_decile`;
c = Δ / max(b, 1), v1's relative income change. Reform totals use the same weights
as the baseline.

budget
    tax_revenue_impact        Σw·household_tax(r) - Σw·household_tax(b)
    state_tax_revenue_impact  the same with household_state_income_tax
    benefit_spending_impact   the same with household_benefits
    budgetary_impact          tax_revenue_impact - benefit_spending_impact
    households                Σw
    baseline_net_income       Σw·household_net_income(b)

detailed_budget — per program of contracts.results.v1.PROGRAM_VARIABLES present in the
    results (v1's shape, which v1 fills for the UK only):
    {baseline: Σw·x(b), reform: Σw·x(r), difference: reform - baseline}

decile — households with d < 0 (negative baseline net income) are left out; the keys
    are the deciles present, as strings
    average[d]   Σ_d w·Δ / Σ_d w
    relative[d]  Σ_d w·Δ / Σ_d w·b

inequality — x = equiv_household_net_income with negatives set to 0, per policy;
    s = a household's rank share: Σ w·n over households with x' <= x, over Σ w·n
    gini              Σ_j Σ_k w_j n_j w_k n_k |x_j - x_k| / (2 · Σwn · Σwnx), 0 if Σwnx = 0
    top_10_pct_share  Σ w·x over households with s > 90%, over Σ w·x
    top_1_pct_share   the same with s > 99%

poverty — person-weighted SPM rates, report["poverty"]["poverty" | "deep_poverty"]
    [group][policy] = Σp·in_(deep_)poverty / Σp over the group; groups child (< 18),
    adult (18-64), senior (≥ 65) by age in whole years, and all
poverty_by_gender — the same for male (is_male) and female
poverty_by_race — only when people carry `race`: {"poverty": {white, black, hispanic,
    other}} with in_poverty alone, as v1

intra_decile — per decile 1..10 the share of people (w·n) whose c falls in
    (-∞,-5%], (-5%,-0.1%], (-0.1%,0.1%], (0.1%,5%], (5%,∞), 0 for an empty decile;
    `all` is the plain mean of the ten decile shares, as v1

wealth_decile, intra_wealth_decile — only when households carry `household_wealth_decile`
    (datasets giving `net_worth`): decile and intra_decile by v1's wealth decile instead
    of the income decile (no household is left out: wealth deciles are 1..10)

labor_supply_response — domain.labour_supply; congressional_district_impact — only with
    district GEOIDs, domain.districts; cliff_impact — only with the cliff outputs,
    domain.cliff

state_impact (not in v1) — per state_code: households Σw, people Σw·n, the four budget
    impacts, net_income_change Σw·Δ, average_household_net_income_change Σw·Δ/Σw,
    relative_net_income_change Σw·Δ/Σw·b, winners_share and losers_share: people
    (w·n) with c > 0.1% and c ≤ -0.1%, over the state's people

distribution (not in v1) — of Δ over households weighted by w: mean Σw·Δ/Σw;
    percentiles 5..95: the smallest Δ whose cumulative weight share reaches q%;
    histogram: 20 equal bins from the 1st to the 99th percentile (left-closed, the last
    closed), weighted households per bin, `below` and `above` the range apart

A number v1 would return as NaN or infinity (an empty group, a zero denominator) is
null here, because JSON has neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from contracts.results.v1 import policy_column
from services.aggregation.domain.budget import budget_impact, budget_window, detailed_budget
from services.aggregation.domain.cliff import cliff_impact
from services.aggregation.domain.columns import (
    HOUSEHOLD_COLUMNS,
    PERSON_COLUMNS,
    POLICIES,
    WEALTH_DECILE,
    ResultsError,
    floats,
    people_weight,
    require,
)
from services.aggregation.domain.distribution import (
    INTRA_DECILE_BUCKETS,
    decile_impact,
    distribution_summary,
    intra_decile_impact,
)
from services.aggregation.domain.districts import congressional_district_impact
from services.aggregation.domain.inequality import inequality_impact
from services.aggregation.domain.labour_supply import labor_supply_response
from services.aggregation.domain.poverty import poverty_by_gender, poverty_by_race, poverty_impact
from services.aggregation.domain.states import state_impact

__all__ = [
    "HOUSEHOLD_COLUMNS",
    "INTRA_DECILE_BUCKETS",
    "PERSON_COLUMNS",
    "Report",
    "ResultsError",
    "build_report",
    "build_window",
]

Report = dict[str, Any]


def build_report(households: pd.DataFrame, people: pd.DataFrame) -> Report:
    """The impact report of one year from its household and person results."""
    require(households, HOUSEHOLD_COLUMNS, "households")
    require(people, PERSON_COLUMNS, "people")
    report: Report = {
        "budget": budget_impact(households),
        "detailed_budget": detailed_budget(households),
        "decile": decile_impact(households),
        "inequality": inequality_impact(
            {
                policy: floats(households[policy_column(policy, "equiv_household_net_income")])
                for policy in POLICIES
            },
            floats(households["household_weight"]),
            people_weight(households),
        ),
        "poverty": poverty_impact(people),
        "poverty_by_gender": poverty_by_gender(people),
        "intra_decile": intra_decile_impact(households),
        "distribution": distribution_summary(households),
    }
    if "race" in people.columns:
        report["poverty_by_race"] = poverty_by_race(people)
    if WEALTH_DECILE in households.columns:
        report["wealth_decile"] = decile_impact(households, WEALTH_DECILE)
        report["intra_wealth_decile"] = intra_decile_impact(households, WEALTH_DECILE)
    report["labor_supply_response"] = labor_supply_response(households, people)
    districts = congressional_district_impact(households)
    if districts is not None:
        report["congressional_district_impact"] = districts
    cliffs = cliff_impact(people)
    if cliffs is not None:
        report["cliff_impact"] = cliffs
    if "state_code" in households.columns:
        report["state_impact"] = state_impact(households)
    return report


def build_window(reports: Mapping[int, Report]) -> dict[str, Any]:
    """The budget-window table of several years' reports."""
    return budget_window({year: report["budget"] for year, report in reports.items()})
