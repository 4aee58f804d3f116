"""The report's labour-supply, wealth, district and cliff sections against v1's own
definitions, computed independently with pandas and microdf (which v1 uses)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from contracts.results.v1 import (
    CLIFF_OUTPUTS,
    LABOR_SUPPLY_HOUSEHOLD_VARIABLES,
    LABOR_SUPPLY_PERSON_VARIABLES,
)
from services.aggregation.domain.districts import district_name
from services.aggregation.domain.report import build_report
from tests.unit.aggregation_results import close, random_frames

POLICIES = ("baseline", "reform")
BUCKETS = ((-np.inf, -0.05), (-0.05, -1e-3), (-1e-3, 1e-3), (1e-3, 0.05), (0.05, np.inf))


def with_sections(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random results carrying every optional column: wealth, districts, labour supply,
    cliffs, as a run of a dataset with them would."""
    h, p = random_frames(seed=seed, households=1500)
    rng = np.random.default_rng(seed + 1)
    n, m = len(h), len(p)
    h["household_net_worth"] = rng.lognormal(11, 1.5, n).astype(np.float32)
    h["household_wealth_decile"] = rng.integers(1, 11, n)
    # Some households outside any district (GEOID 0), an at-large district (5600).
    h["congressional_district_geoid"] = rng.choice([0, 601, 602, 4812, 5600], n)
    for policy in POLICIES:
        for variable in LABOR_SUPPLY_HOUSEHOLD_VARIABLES:
            h[f"{policy}_{variable}"] = rng.normal(20_000, 9_000, n).astype(np.float32)
        for variable in LABOR_SUPPLY_PERSON_VARIABLES:
            p[f"{policy}_{variable}"] = rng.normal(0, 300, m).astype(np.float32)
        p[f"{policy}_cliff_gap"] = np.where(rng.random(m) < 0.1, rng.uniform(0, 900, m), 0)
        p[f"{policy}_is_on_cliff"] = p[f"{policy}_cliff_gap"] > 0
        p[f"{policy}_is_adult"] = p["age"] >= 18
    assert set(CLIFF_OUTPUTS) == {"cliff_gap", "is_on_cliff", "is_adult"}
    return h, p


def money(frame: pd.DataFrame, column: str) -> pd.Series[Any]:
    return frame[column].astype("float64")


@pytest.mark.parametrize("seed", [3, 4])
def test_labor_supply_response_follows_v1(seed: int) -> None:
    from microdf import MicroSeries  # type: ignore[import-untyped]

    h, p = with_sections(seed)
    section = build_report(h, p)["labor_supply_response"]

    pw = money(p, "person_weight")

    def person_change(variable: str) -> float:
        return float(
            (pw * money(p, f"reform_{variable}")).sum()
            - (pw * money(p, f"baseline_{variable}")).sum()
        )

    w = money(h, "household_weight").to_numpy()
    inc = money(h, "reform_income_elasticity_lsr") - money(h, "baseline_income_elasticity_lsr")
    sub = money(h, "reform_substitution_elasticity_lsr") - money(
        h, "baseline_substitution_elasticity_lsr"
    )
    earnings = money(h, "baseline_employment_income") + money(h, "baseline_self_employment_income")
    original = MicroSeries((earnings - inc - sub).to_numpy(), weights=w)
    income = MicroSeries(inc.to_numpy(), weights=w)
    substitution = MicroSeries(sub.to_numpy(), weights=w)
    decile = h["household_income_decile"].to_numpy()

    assert close(section["income_lsr"], person_change("income_elasticity_lsr"))
    assert close(section["substitution_lsr"], person_change("substitution_elasticity_lsr"))
    assert close(section["total_change"], section["income_lsr"] + section["substitution_lsr"])
    assert section["revenue_change"] == 0.0
    assert close(section["relative_lsr"]["income"], income.sum() / original.sum())
    assert close(section["relative_lsr"]["substitution"], substitution.sum() / original.sum())
    average = income.groupby(decile).mean()
    assert set(section["decile"]["average"]["income"]) == {str(d) for d in average.index}
    for d, value in average.items():
        assert close(section["decile"]["average"]["income"][str(d)], value, 1e3)
    relative = substitution.groupby(decile).sum() / original.groupby(decile).sum()
    assert set(section["decile"]["relative"]["substitution"]) == {
        str(d) for d in relative.index if d > 0
    }
    for d, value in relative.items():
        if d > 0:
            assert close(section["decile"]["relative"]["substitution"][str(d)], value, 1e-6)
    hours = section["hours"]
    base = float((pw * money(p, "baseline_weekly_hours_worked")).sum())
    assert close(hours["baseline"], base)
    assert close(hours["change"], person_change("weekly_hours_worked"), abs(base))
    assert close(
        hours["income_effect"],
        person_change("weekly_hours_worked_behavioural_response_income_elasticity"),
    )


def test_without_labour_supply_columns_nothing_responds() -> None:
    h, p = random_frames(seed=8, households=300)
    section = build_report(h, p)["labor_supply_response"]
    assert section["income_lsr"] == section["substitution_lsr"] == section["total_change"] == 0
    assert set(section["hours"].values()) == {0.0}
    deciles = {str(d) for d in np.unique(h["household_income_decile"])}
    assert set(section["decile"]["average"]["income"]) == deciles
    assert set(section["decile"]["relative"]["income"]) == {d for d in deciles if int(d) > 0}


def test_wealth_deciles_follow_v1() -> None:
    from microdf import MicroSeries

    h, p = with_sections(5)
    report = build_report(h, p)
    w = money(h, "household_weight").to_numpy()
    b = MicroSeries(money(h, "baseline_household_net_income").to_numpy(), weights=w)
    r = MicroSeries(money(h, "reform_household_net_income").to_numpy(), weights=w)
    decile = h["household_wealth_decile"].to_numpy()
    change = r - b
    relative = change.groupby(decile).sum() / b.groupby(decile).sum()
    average = change.groupby(decile).sum() / b.groupby(decile).count()
    for d in range(1, 11):
        assert close(report["wealth_decile"]["relative"][str(d)], relative[d], 1e-6)
        assert close(report["wealth_decile"]["average"][str(d)], average[d], 1e2)

    people = money(h, "household_count_people").to_numpy() * w
    before = money(h, "baseline_household_net_income").to_numpy()
    gain = (money(h, "reform_household_net_income").to_numpy() - before) / np.maximum(before, 1)
    intra = report["intra_wealth_decile"]
    for (lower, upper), (label, shares) in zip(BUCKETS, intra["deciles"].items(), strict=True):
        in_bucket = (gain > lower) & (gain <= upper)
        for d in range(1, 11):
            expected = people[(decile == d) & in_bucket].sum() / people[decile == d].sum()
            assert close(shares[d - 1], expected)
        assert close(intra["all"][label], sum(shares) / 10)


def test_district_impact() -> None:
    h, p = with_sections(6)
    districts = build_report(h, p)["congressional_district_impact"]["districts"]
    assert [d["district"] for d in districts] == ["CA-01", "CA-02", "TX-12", "WY-01"]
    for entry in districts:
        members = h[h["congressional_district_geoid"] == entry["district_geoid"]]
        w = money(members, "household_weight")
        b = (w * money(members, "baseline_household_net_income")).sum()
        r = (w * money(members, "reform_household_net_income")).sum()
        assert close(entry["households"], w.sum())
        assert close(entry["average_household_income_change"], (r - b) / w.sum(), abs(r) / w.sum())
        assert close(entry["relative_household_income_change"], r / b - 1, 1.0)


def test_district_names_follow_v1() -> None:
    assert district_name(601) == "CA-01"
    assert district_name(4838) == "TX-38"
    assert district_name(1100) == "DC-01"
    assert district_name(3701) == "NC-01"


def test_cliff_impact() -> None:
    h, p = with_sections(7)
    cliffs = build_report(h, p)["cliff_impact"]
    pw = money(p, "person_weight")
    for policy in POLICIES:
        assert close(cliffs[policy]["cliff_gap"], (pw * money(p, f"{policy}_cliff_gap")).sum())
        on_cliff = (pw * money(p, f"{policy}_is_on_cliff")).sum()
        assert close(cliffs[policy]["cliff_share"], on_cliff / (pw * p["age"].ge(18)).sum())


def test_sections_are_left_out_without_their_columns() -> None:
    h, p = random_frames(seed=9, households=200)
    report = build_report(h, p)
    for section in ("wealth_decile", "intra_wealth_decile", "congressional_district_impact"):
        assert section not in report
    assert "cliff_impact" not in report
