"""Custom aggregates against plain pandas computations of the same statistic."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from services.aggregation.domain.aggregates import (
    AggregateRefused,
    AggregateRequest,
    compute_aggregate,
)
from tests.unit.aggregation_results import close, random_frames, weighted_percentile


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return random_frames(seed=51, households=1200, race=True)


def aggregate(frame: pd.DataFrame, **request: Any) -> dict[str, Any]:
    return compute_aggregate(frame.copy(), AggregateRequest.model_validate(request))


def test_sum_mean_and_count_of_households(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    h, _ = frames
    w = h["household_weight"].astype("float64")
    net = h["reform_household_net_income"].astype("float64")
    total = aggregate(h, variable="household_net_income", stat="sum")
    assert close(total["value"], (w * net).sum())
    assert total["rows"] == len(h) and close(total["weight"], w.sum())
    mean = aggregate(h, variable="household_net_income", stat="mean", policy="baseline")
    base = h["baseline_household_net_income"].astype("float64")
    assert close(mean["value"], (w * base).sum() / w.sum())
    assert close(aggregate(h, variable="household_id", stat="count")["value"], w.sum())


def test_change_filtered_and_grouped(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    h, _ = frames
    result = aggregate(
        h,
        variable="snap",
        stat="sum",
        policy="change",
        filter=[{"variable": "household_income_decile", "op": "le", "value": 3}],
        group_by="state_code",
    )
    chosen = h[h["household_income_decile"] <= 3]
    w = chosen["household_weight"].astype("float64")
    change = chosen["reform_snap"].astype("float64") - chosen["baseline_snap"].astype("float64")
    expected = (w * change).groupby(chosen["state_code"]).sum()
    assert set(result["groups"]) == set(expected.index)
    for state, value in expected.items():
        assert close(result["groups"][state], value, (w * change.abs()).sum())
    assert close(result["value"], expected.sum(), (w * change.abs()).sum())


def test_person_median_quantile_and_string_filter(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    _, p = frames
    women = p[~p["is_male"]]
    median = aggregate(
        p,
        variable="age",
        entity="person",
        stat="median",
        filter=[{"variable": "is_male", "value": False}],
    )
    assert close(median["value"], weighted_percentile(women["age"], women["person_weight"], 50))
    quantile = aggregate(
        p,
        variable="age",
        entity="person",
        stat="quantile",
        q=0.9,
        filter=[{"variable": "race", "op": "in", "value": ["BLACK", "HISPANIC"]}],
    )
    chosen = p[p["race"].isin(["BLACK", "HISPANIC"])]
    assert close(
        quantile["value"],
        weighted_percentile(chosen["age"], chosen["person_weight"], 90),
    )
    poor = aggregate(p, variable="in_poverty", entity="person", stat="mean", group_by="race")
    for race, group in p.groupby("race"):
        w = group["person_weight"].astype("float64")
        assert close(poor["groups"][race], (w * group["reform_in_poverty"]).sum() / w.sum())


def test_a_column_not_stored_is_refused_by_name(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    h, _ = frames
    with pytest.raises(AggregateRefused, match="medicaid was not stored") as refused:
        aggregate(h, variable="medicaid", stat="sum")
    assert refused.value.field == "variable"
    assert "outputs" in str(refused.value)
    with pytest.raises(AggregateRefused) as refused:
        aggregate(h, variable="snap", stat="sum", filter=[{"variable": "nope", "value": 1}])
    assert refused.value.field == "filter[0].variable"
    with pytest.raises(AggregateRefused) as refused:
        aggregate(h, variable="snap", stat="sum", group_by="county")
    assert refused.value.field == "group_by"
    with pytest.raises(AggregateRefused, match="no change"):
        aggregate(h, variable="household_weight", stat="sum", policy="change")


def test_quantile_needs_q() -> None:
    with pytest.raises(ValidationError, match="q is required"):
        AggregateRequest(variable="age", stat="quantile")
    with pytest.raises(ValidationError, match="q is required"):
        AggregateRequest(variable="age", stat="sum", q=0.5)


def test_empty_selection_has_no_mean(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    h, _ = frames
    result = aggregate(
        h,
        variable="household_net_income",
        stat="mean",
        filter=[{"variable": "state_code", "value": "ZZ"}],
    )
    assert result["value"] is None and result["rows"] == 0
    assert np.isclose(result["weight"], 0.0)
