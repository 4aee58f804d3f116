"""The impact report against independent pandas computations from its definitions
(tests/unit/report_definitions.py)."""

from __future__ import annotations

import hashlib
import io
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from contracts.results.v1 import household_columns, person_columns
from services.aggregation.domain.report import (
    ResultsError,
    build_report,
    build_window,
)
from services.aggregation.domain.results import (
    ResultFileContent,
    read_results,
    stacked_parquet,
    years_of,
)
from tests.unit.aggregation_results import (
    close,
    household_frame,
    parquet,
    person_frame,
    random_frames,
)
from tests.unit.report_definitions import (
    POLICIES,
    assert_report_matches,
    expected_budget,
    money,
)


def check_report(h: pd.DataFrame, p: pd.DataFrame) -> dict[str, Any]:
    report = build_report(h, p)
    assert_report_matches(report, h, p)
    return report


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_population_matches_definitions(seed: int) -> None:
    households, people = random_frames(seed, race=seed != 2)
    assert households["baseline_household_net_income"].dtype == np.float32
    report = check_report(households, people)
    # Decile 1 can be all negative incomes, which v1 leaves out.
    assert {str(d) for d in range(2, 11)} <= set(report["decile"]["average"])


def test_hand_computed_numbers() -> None:
    # Two equal households of one person each, incomes 0 and 100: Gini 1/2.
    h = household_frame([1.0, 1.0], [1, 1], [0.0, 100.0], [10.0, 100.0], decile=[5, 10])
    p = person_frame(h, [30.0, 70.0], np.random.default_rng(0))
    report = check_report(h, p)
    assert report["inequality"]["gini"]["baseline"] == pytest.approx(0.5, rel=1e-12)
    # Reform incomes 10 and 100: Σ|xj-xk| over ordered pairs 180, / (2·2·110).
    assert report["inequality"]["gini"]["reform"] == pytest.approx(180 / 440, rel=1e-12)
    assert report["decile"]["average"] == {"5": 10.0, "10": 0.0}
    # A baseline of 0 has no relative change to speak of: v1 divides and gets infinity.
    assert report["decile"]["relative"] == {"5": None, "10": 0.0}
    assert report["budget"]["households"] == 2.0
    assert report["budget"]["baseline_net_income"] == 100.0
    assert report["budget"]["tax_revenue_impact"] == pytest.approx(2.0, rel=1e-6)
    # The top person of two holds 100 of 100 (baseline), 100 of 110 (reform).
    assert report["inequality"]["top_10_pct_share"]["baseline"] == 1.0
    assert report["inequality"]["top_10_pct_share"]["reform"] == pytest.approx(100 / 110)
    # Income 0 → 10: c = 10 / max(0, 1) = 10, a gain of more than 5% in decile 5.
    assert report["intra_decile"]["deciles"]["Gain more than 5%"][4] == 1.0
    assert report["intra_decile"]["deciles"]["No change"][9] == 1.0
    assert report["intra_decile"]["all"]["Gain more than 5%"] == pytest.approx(0.1)


def test_zero_change_reform() -> None:
    h, p = random_frames(seed=11, households=500)
    for variable in ("household_net_income", "equiv_household_net_income", "household_tax"):
        h[f"reform_{variable}"] = h[f"baseline_{variable}"]
    for variable in ("household_benefits", "household_state_income_tax"):
        h[f"reform_{variable}"] = h[f"baseline_{variable}"]
    for measure in ("in_poverty", "in_deep_poverty"):
        p[f"reform_{measure}"] = p[f"baseline_{measure}"]
    report = check_report(h, p)
    budget = report["budget"]
    for key in ("budgetary_impact", "tax_revenue_impact", "benefit_spending_impact"):
        assert budget[key] == 0.0
    assert set(report["decile"]["average"].values()) == {0.0}
    assert set(report["decile"]["relative"].values()) == {0.0}
    for measure in report["inequality"].values():
        assert measure["baseline"] == measure["reform"]
    present = [int(d) for d in report["decile"]["average"]]
    no_change = report["intra_decile"]["deciles"]["No change"]
    assert [no_change[d - 1] for d in present] == [1.0] * len(present)
    # v1 averages the ten deciles, an empty one counting 0.
    assert report["intra_decile"]["all"]["No change"] == pytest.approx(len(present) / 10)


def test_a_decile_without_change() -> None:
    h, p = random_frames(seed=12, households=800)
    unchanged = h["household_income_decile"] == 4
    for variable in ("household_net_income", "equiv_household_net_income"):
        h.loc[unchanged, f"reform_{variable}"] = h.loc[unchanged, f"baseline_{variable}"]
    report = check_report(h, p)
    assert report["decile"]["average"]["4"] == 0.0
    assert report["decile"]["relative"]["4"] == 0.0
    assert report["intra_decile"]["deciles"]["No change"][3] == 1.0
    assert report["decile"]["average"]["5"] != 0.0


def test_negative_incomes() -> None:
    weight = [2.0, 1.0, 3.0, 1.0, 2.0]
    people = [2, 1, 3, 1, 4]
    baseline = [-5000.0, -10.0, 20000.0, 60000.0, 35000.0]
    reform = [-4000.0, 50.0, 21000.0, 59000.0, 35000.0]
    h = household_frame(weight, people, baseline, reform)
    assert list(h["household_income_decile"][:2]) == [-1, -1]
    rng = np.random.default_rng(5)
    p = person_frame(h, list(rng.uniform(0, 90, sum(people))), rng)
    report = check_report(h, p)
    # Negative-income households count in the budget but in no decile.
    assert "-1" not in report["decile"]["average"]
    assert report["budget"]["households"] == 9.0
    # Their equivalised income counts as 0 in the inequality measures.
    x = np.array([0, 0, 20000 / 3**0.5, 60000, 35000 / 2])
    n = np.array(weight) * np.array(people)
    pairs = (n[:, None] * n[None, :] * np.abs(x[:, None] - x[None, :])).sum()
    assert report["inequality"]["gini"]["baseline"] == pytest.approx(
        pairs / (2 * n.sum() * (n * x).sum()), rel=1e-6
    )


def test_empty_age_group_is_null_not_nan() -> None:
    h = household_frame([1.0, 3.0], [1, 2], [1000.0, 50000.0], [1100.0, 50000.0], decile=[1, 10])
    p = person_frame(h, [30.0, 40.0, 8.0], np.random.default_rng(1))
    report = build_report(h, p)
    assert report["poverty"]["poverty"]["senior"] == {"baseline": None, "reform": None}
    assert report["poverty"]["poverty"]["child"]["baseline"] is not None


def test_missing_column_is_refused() -> None:
    h, p = random_frames(seed=4, households=50)
    with pytest.raises(ResultsError, match="reform_household_tax"):
        build_report(h.drop(columns=["reform_household_tax"]), p)


def test_agrees_with_microdf_where_v1_uses_it() -> None:
    """Ranks, Gini and weighted group sums against microdf, which v1 computes with."""
    import microdf  # type: ignore[import-untyped]

    h, p = random_frames(seed=21, households=2000)
    report = build_report(h, p)
    count = h["household_count_people"].to_numpy()
    weight = money(h, "household_weight").to_numpy()
    for policy in POLICIES:
        income = microdf.MicroSeries(
            money(h, f"{policy}_equiv_household_net_income").clip(lower=0).to_numpy(),
            weights=weight * count,
        )
        top_10 = np.asarray(income.decile_rank()) == 10
        top_1 = np.asarray(income.percentile_rank()) == 100
        by_household = microdf.MicroSeries(np.asarray(income), weights=weight)
        assert close(report["inequality"]["gini"][policy], float(income.gini()))
        assert close(
            report["inequality"]["top_10_pct_share"][policy],
            by_household[top_10].sum() / by_household.sum(),
        )
        assert close(
            report["inequality"]["top_1_pct_share"][policy],
            by_household[top_1].sum() / by_household.sum(),
        )


def content(uri: str, data: bytes) -> ResultFileContent:
    return ResultFileContent(uri=uri, sha256=hashlib.sha256(data).hexdigest(), data=data)


def partitioned(
    h: pd.DataFrame, p: pd.DataFrame, parts: int, year: int | None, seed: int
) -> list[ResultFileContent]:
    """The rows split at random into `parts` partitions, each written in shuffled order."""
    rng = np.random.default_rng(seed)
    part_of = rng.integers(0, parts, len(h))
    files = []
    for part in range(parts):
        households = h[part_of == part].sample(frac=1, random_state=seed)
        people = p[p["household_id"].isin(households["household_id"])].sample(
            frac=1, random_state=seed
        )
        for name, frame in (("households.parquet", households), ("people.parquet", people)):
            data = parquet(frame)
            files.append(
                ResultFileContent(
                    uri=f"file:///r/{year}/part-{part}/{name}",
                    sha256=hashlib.sha256(data).hexdigest(),
                    data=data,
                    name=name,
                    year=year,
                    partition=part,
                )
            )
    return files


def test_partitioned_and_unpartitioned_reports_are_identical() -> None:
    h, p = random_frames(seed=14, households=1500, race=True)
    whole = read_results(partitioned(h, p, 1, None, seed=1))
    split = read_results(partitioned(h, p, 7, None, seed=2))
    assert build_report(*split) == build_report(*whole)
    assert_report_matches(build_report(*split), h, p)
    # The download is the same bytes too.
    assert stacked_parquet(partitioned(h, p, 5, None, seed=3)) == stacked_parquet(
        partitioned(h, p, 1, None, seed=4)
    )
    downloaded = pd.read_parquet(io.BytesIO(stacked_parquet(partitioned(h, p, 3, None, 5))))
    assert list(downloaded["household_id"]) == sorted(h["household_id"])
    assert list(downloaded.columns) == list(h.columns)


def test_several_years_give_a_report_each_and_a_window() -> None:
    first, first_people = random_frames(seed=15, households=600)
    second, second_people = random_frames(seed=16, households=600)
    files = [
        *partitioned(first, first_people, 3, None, seed=6),
        *partitioned(second, second_people, 2, 2027, seed=7),
    ]
    by_year = years_of(files, default_year=2026)
    assert list(by_year) == [2026, 2027]
    reports = {year: build_report(*read_results(group)) for year, group in by_year.items()}
    assert_report_matches(reports[2026], first, first_people)
    assert_report_matches(reports[2027], second, second_people)
    window = build_window(reports)
    assert [row["year"] for row in window["years"]] == [2026, 2027]
    for key in ("budgetary_impact", "tax_revenue_impact", "state_tax_revenue_impact"):
        budgets = [expected_budget(frame)[key] for frame in (first, second)]
        assert close(
            window["total"][key], budgets[0][0] + budgets[1][0], budgets[0][1] + budgets[1][1]
        )
        for row, (value, scale) in zip(window["years"], budgets, strict=True):
            assert close(row[key], value, scale)


def test_results_without_optional_columns_give_the_v1_sections() -> None:
    h, p = random_frames(seed=17, households=400)
    older = h.drop(columns=["state_code", *(c for c in h.columns if c.endswith("_snap"))])
    report = check_report(older, p)
    assert "snap" not in report["detailed_budget"] and "ctc" in report["detailed_budget"]
    assert "state_impact" not in report and "poverty_by_race" not in report


def test_results_files_are_read_and_partitions_stacked() -> None:
    h, p = random_frames(seed=8, households=300)
    assert list(h.columns) == household_columns()
    assert list(p.columns) == person_columns()
    halves = [
        content(f"file:///r/part-{i}/{name}", parquet(frame))
        for i, (households, people) in enumerate(
            ((h[:100], p[p.household_id < 100]), (h[100:], p[p.household_id >= 100]))
        )
        for name, frame in (("households.parquet", households), ("people.parquet", people))
    ]
    households, people = read_results(halves)
    assert households["baseline_household_net_income"].dtype == np.float32
    assert len(households) == 300 and len(people) == len(p)
    assert build_report(households, people) == build_report(h, p)


def test_results_with_a_wrong_checksum_are_refused() -> None:
    h, p = random_frames(seed=9, households=20)
    files = [content("file:///r/households.parquet", parquet(h))]
    files.append(ResultFileContent("file:///r/people.parquet", "0" * 64, parquet(p)))
    with pytest.raises(ResultsError, match="SHA-256"):
        read_results(files)


def test_results_without_people_are_refused() -> None:
    h, _ = random_frames(seed=10, households=20)
    with pytest.raises(ResultsError, match=r"people\.parquet"):
        read_results([content("file:///r/households.parquet", parquet(h))])


def test_report_is_plain_json() -> None:
    import json

    h, p = random_frames(seed=13, households=200)
    report = build_report(h, p)
    text = json.dumps(report, allow_nan=False)
    assert json.loads(text) == report
    assert not any(isinstance(v, float) and math.isnan(v) for v in _leaves(report))


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]
