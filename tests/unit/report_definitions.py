"""The impact report's numbers computed independently, straight from their definitions
(pandas over the raw household and person results), and the check that a report has
each of them: for the unit tests of the report and for the service and end-to-end
tests of the reports the stack stores."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from contracts.results.v1 import PROGRAM_VARIABLES
from services.aggregation.domain.report import INTRA_DECILE_BUCKETS
from tests.unit.aggregation_results import close, weighted_percentile

POLICIES = ("baseline", "reform")


def money(frame: pd.DataFrame, column: str) -> pd.Series[Any]:
    return frame[column].astype("float64")


def expected_budget(h: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Each budget number with the scale of its terms."""
    w = money(h, "household_weight")

    def change(variable: str) -> tuple[float, float]:
        terms = w * (money(h, f"reform_{variable}") - money(h, f"baseline_{variable}"))
        scale = (w * money(h, f"reform_{variable}").abs()).sum()
        return terms.sum(), scale

    tax, benefits = change("household_tax"), change("household_benefits")
    return {
        "tax_revenue_impact": tax,
        "state_tax_revenue_impact": change("household_state_income_tax"),
        "benefit_spending_impact": benefits,
        "budgetary_impact": (tax[0] - benefits[0], tax[1] + benefits[1]),
        "households": (w.sum(), 0.0),
        "baseline_net_income": ((w * money(h, "baseline_household_net_income")).sum(), 0.0),
    }


def expected_deciles(h: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "decile": h["household_income_decile"],
            "w": money(h, "household_weight"),
            "b": money(h, "baseline_household_net_income"),
            "r": money(h, "reform_household_net_income"),
        }
    )
    frame = frame[frame["decile"] >= 0]
    frame["wd"] = frame["w"] * (frame["r"] - frame["b"])
    frame["wb"] = frame["w"] * frame["b"]
    frame["w_abs_d"] = frame["wd"].abs()
    sums = frame.groupby("decile")[["w", "wd", "wb", "w_abs_d"]].sum()
    return pd.DataFrame(
        {
            "average": sums["wd"] / sums["w"],
            "relative": sums["wd"] / sums["wb"],
            "average_scale": sums["w_abs_d"] / sums["w"],
            "relative_scale": sums["w_abs_d"] / sums["wb"].abs(),
        }
    )


def expected_inequality(h: pd.DataFrame, policy: str) -> dict[str, float]:
    x = money(h, f"{policy}_equiv_household_net_income").clip(lower=0).to_numpy()
    w = money(h, "household_weight").to_numpy()
    people = w * h["household_count_people"].to_numpy()
    # Gini from its pairwise definition, in blocks to bound memory.
    pairs = 0.0
    for start in range(0, len(x), 500):
        block = slice(start, start + 500)
        pairs += float(
            (people[block, None] * people[None, :] * np.abs(x[block, None] - x[None, :])).sum()
        )
    gini = pairs / (2 * people.sum() * (people * x).sum())
    # A household's rank share: the share of people in households with income <= its own.
    by_income = pd.Series(people).groupby(x).sum().sort_index().cumsum() / people.sum()
    share = pd.Series(x).map(by_income).to_numpy()
    total = (w * x).sum()
    return {
        "gini": gini,
        "top_10_pct_share": (w * x)[share > 0.9].sum() / total,
        "top_1_pct_share": (w * x)[share > 0.99].sum() / total,
    }


def age_group(age: pd.Series[Any]) -> pd.Series[Any]:
    years = np.floor(age.astype("float64"))
    return pd.Series(
        np.select([years < 18, years < 65], ["child", "adult"], "senior"), index=age.index
    )


def expected_poverty(p: pd.DataFrame, groups: pd.Series[Any], measure: str) -> pd.DataFrame:
    frame = pd.DataFrame({"group": groups, "w": money(p, "person_weight")})
    for policy in POLICIES:
        frame[policy] = frame["w"] * p[f"{policy}_{measure}"].astype("float64")
    sums = frame.groupby("group")[["w", *POLICIES]].sum()
    everyone = sums.sum()
    sums.loc["all"] = everyone
    return sums[list(POLICIES)].div(sums["w"], axis=0)


def expected_intra_decile(h: pd.DataFrame) -> pd.DataFrame:
    b = money(h, "baseline_household_net_income")
    change = (money(h, "reform_household_net_income") - b) / b.clip(lower=1)
    labels = [label for label, _, _ in INTRA_DECILE_BUCKETS]
    bucket = pd.cut(change, bins=[-np.inf, -0.05, -1e-3, 1e-3, 0.05, np.inf], labels=labels)
    frame = pd.DataFrame(
        {
            "decile": h["household_income_decile"],
            "bucket": bucket,
            "people": money(h, "household_weight") * h["household_count_people"],
        }
    )
    frame = frame[frame["decile"].between(1, 10)]
    counts = frame.pivot_table(
        index="decile", columns="bucket", values="people", aggfunc="sum", observed=False
    ).reindex(index=range(1, 11), columns=labels)
    counts = counts.fillna(0.0)
    return counts.div(counts.sum(axis=1), axis=0).fillna(0.0)


def expected_programs(
    h: pd.DataFrame, present: list[str]
) -> dict[str, dict[str, tuple[float, float]]]:
    w = money(h, "household_weight")
    programs = {}
    for program in present:
        b = (w * money(h, f"baseline_{program}")).sum()
        r = (w * money(h, f"reform_{program}")).sum()
        programs[program] = {
            "baseline": (b, 0.0),
            "reform": (r, 0.0),
            "difference": (r - b, abs(r) + abs(b)),
        }
    return programs


def expected_states(h: pd.DataFrame) -> pd.DataFrame:
    b = money(h, "baseline_household_net_income")
    r = money(h, "reform_household_net_income")
    c = (r - b) / b.clip(lower=1)
    frame = pd.DataFrame({"state": h["state_code"], "w": money(h, "household_weight")})
    frame["n"] = frame["w"] * h["household_count_people"]
    frame["wd"] = frame["w"] * (r - b)
    frame["wb"] = frame["w"] * b
    frame["abs_wd"] = frame["wd"].abs()
    frame["win"] = frame["n"].where(c > 1e-3, 0.0)
    frame["lose"] = frame["n"].where(c <= -1e-3, 0.0)
    for variable in ("household_tax", "household_benefits", "household_state_income_tax"):
        frame[variable] = frame["w"] * (
            money(h, f"reform_{variable}") - money(h, f"baseline_{variable}")
        )
        frame[f"{variable}_scale"] = frame["w"] * money(h, f"reform_{variable}").abs()
    sums = frame.groupby("state").sum(numeric_only=True)
    return pd.DataFrame(
        {
            "households": sums["w"],
            "people": sums["n"],
            "tax_revenue_impact": sums["household_tax"],
            "state_tax_revenue_impact": sums["household_state_income_tax"],
            "benefit_spending_impact": sums["household_benefits"],
            "budgetary_impact": sums["household_tax"] - sums["household_benefits"],
            "budget_scale": sums["household_tax_scale"] + sums["household_benefits_scale"],
            "net_income_change": sums["wd"],
            "average_household_net_income_change": sums["wd"] / sums["w"],
            "relative_net_income_change": sums["wd"] / sums["wb"],
            "winners_share": sums["win"] / sums["n"],
            "losers_share": sums["lose"] / sums["n"],
            "change_scale": sums["abs_wd"],
            "wb": sums["wb"].abs(),
        }
    )


def assert_distribution_matches(distribution: dict[str, Any], h: pd.DataFrame) -> None:
    w = money(h, "household_weight")
    change = money(h, "reform_household_net_income") - money(h, "baseline_household_net_income")
    assert close(
        distribution["mean"], (w * change).sum() / w.sum(), (w * change.abs()).sum() / w.sum()
    )
    assert set(distribution["percentiles"]) == {"5", "10", "25", "50", "75", "90", "95"}
    for percent, value in distribution["percentiles"].items():
        assert close(value, weighted_percentile(change, w, float(percent))), percent
    histogram = distribution["histogram"]
    low, high = weighted_percentile(change, w, 1), weighted_percentile(change, w, 99)
    if low == high:
        low, high = low - 0.5, high + 0.5
    edges = histogram["edges"]
    assert len(edges) == 21 and len(histogram["households"]) == 20
    for position, edge in enumerate(edges):
        assert close(edge, low + (high - low) * position / 20, abs(low) + abs(high))
    assert edges[0] == low and edges[-1] == high
    inside = change.between(low, high)
    bins = pd.cut(change[inside], bins=edges, right=False, labels=False, include_lowest=True)
    # The last bin is closed on the right: its upper edge belongs to it.
    bins = bins.where(change[inside] != high, 19)
    counts = w[inside].groupby(bins).sum().reindex(range(20), fill_value=0.0)
    for actual, expected in zip(histogram["households"], counts, strict=True):
        assert close(actual, expected, w.sum())
    assert close(histogram["below"], w[change < low].sum())
    assert close(histogram["above"], w[change > high].sum())


def assert_report_matches(report: dict[str, Any], h: pd.DataFrame, p: pd.DataFrame) -> None:
    """Every number of `report` equals the definitions computed here from the raw results."""
    for key, (value, scale) in expected_budget(h).items():
        assert close(report["budget"][key], value, scale), key

    deciles = expected_deciles(h)
    # Key order is not part of the report: Postgres JSONB does not keep it.
    assert set(report["decile"]["average"]) == {str(d) for d in deciles.index}
    assert set(report["decile"]["relative"]) == {str(d) for d in deciles.index}
    for decile, row in deciles.iterrows():
        assert close(report["decile"]["average"][str(decile)], row.average, row.average_scale)
        assert close(report["decile"]["relative"][str(decile)], row.relative, row.relative_scale)

    for policy in POLICIES:
        for measure, value in expected_inequality(h, policy).items():
            assert close(report["inequality"][measure][policy], value), (measure, policy)

    for groups, section, names in (
        (age_group(p["age"]), "poverty", ["child", "adult", "senior", "all"]),
        (
            p["is_male"].map({True: "male", False: "female"}),
            "poverty_by_gender",
            ["male", "female"],
        ),
    ):
        for measure in ("poverty", "deep_poverty"):
            rates = expected_poverty(p, groups, f"in_{measure}").reindex(names)
            assert set(report[section][measure]) == set(names)
            for group, row in rates.iterrows():
                for policy in POLICIES:
                    assert close(report[section][measure][group][policy], row[policy])

    intra = expected_intra_decile(h)
    for label in intra.columns:
        shares = report["intra_decile"]["deciles"][label]
        assert len(shares) == 10
        for actual, expected in zip(shares, intra[label], strict=True):
            assert close(actual, expected)
        assert close(report["intra_decile"]["all"][label], intra[label].mean())

    present = [program for program in PROGRAM_VARIABLES if f"reform_{program}" in h.columns]
    assert set(report["detailed_budget"]) == set(present)
    for program, figures in expected_programs(h, present).items():
        for key, (value, scale) in figures.items():
            assert close(report["detailed_budget"][program][key], value, scale), (program, key)

    if "race" in p.columns:
        races = p["race"].str.lower()
        rates = expected_poverty(p, races, "in_poverty").reindex(
            ["white", "black", "hispanic", "other"]
        )
        assert set(report["poverty_by_race"]) == {"poverty"}
        for group, row in rates.iterrows():
            for policy in POLICIES:
                assert close(report["poverty_by_race"]["poverty"][group][policy], row[policy])
    else:
        assert "poverty_by_race" not in report

    if "state_code" not in h.columns:
        assert "state_impact" not in report
        assert_distribution_matches(report["distribution"], h)
        return
    states = expected_states(h)
    assert set(report["state_impact"]) == set(states.index)
    for state, row in states.iterrows():
        actual = report["state_impact"][state]
        scales = {
            "budgetary_impact": row.budget_scale,
            "net_income_change": row.change_scale,
            "average_household_net_income_change": row.change_scale / row.households,
            "relative_net_income_change": row.change_scale / row.wb,
        }
        for key in actual:
            assert close(actual[key], row[key], scales.get(key, 0.0)), (state, key)

    assert_distribution_matches(report["distribution"], h)
