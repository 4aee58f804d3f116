"""Custom aggregates: one weighted statistic of one stored column, filtered and grouped.

Weights are the report's: households by `household_weight`, people by `person_weight`.
A policy-dependent variable `v` is the column `baseline_v` or `reform_v` (`change`:
reform minus baseline); a column without a policy prefix (household_weight, state_code,
age, ...) reads the same under every policy. Filters and `group_by` name a column
exactly, or a policy-dependent variable, read under the baseline.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, model_validator

from contracts.results.v1 import POLICIES, policy_column
from services.aggregation.domain.columns import Floats, number
from services.aggregation.domain.distribution import weighted_percentile

Entity = Literal["household", "person"]
Stat = Literal["sum", "mean", "median", "count", "quantile"]
AggregatePolicy = Literal["baseline", "reform", "change"]
WEIGHTS: dict[str, str] = {"household": "household_weight", "person": "person_weight"}
MAX_GROUPS = 1000


class Condition(BaseModel):
    """Keep the rows whose `variable` compares to `value` with `op`."""

    variable: str = Field(min_length=1, max_length=128)
    op: Literal["eq", "ne", "lt", "le", "gt", "ge", "in"] = "eq"
    value: float | bool | str | list[float | bool | str]


class AggregateRequest(BaseModel):
    """A weighted statistic of a stored column of a simulation's results."""

    variable: str = Field(min_length=1, max_length=128)
    entity: Entity = "household"
    stat: Stat
    q: float | None = Field(default=None, ge=0, le=1, description="The quantile, for `quantile`")
    filter: list[Condition] = Field(default=[], max_length=20)
    group_by: str | None = Field(default=None, max_length=128)
    policy: AggregatePolicy = "reform"
    year: int | None = Field(default=None, description="A budget window's year; default first")

    @model_validator(mode="after")
    def _quantile_needs_q(self) -> AggregateRequest:
        if (self.stat == "quantile") != (self.q is not None):
            raise ValueError("q is required with stat quantile, and only with it")
        return self


class AggregateRefused(ValueError):
    """A request the results cannot answer (a column they do not hold); names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def stored_variables(frame: pd.DataFrame) -> list[str]:
    """The names a request may use: policy-free columns and variables stored per policy."""
    names = set()
    for column in frame.columns:
        for policy in POLICIES:
            if column.startswith(f"{policy}_"):
                names.add(column.removeprefix(f"{policy}_"))
                break
        else:
            names.add(column)
    return sorted(names)


def column_values(
    frame: pd.DataFrame, name: str, policy: AggregatePolicy, field: str
) -> pd.Series[Any]:
    """The values of `name` under `policy`, or AggregateRefused naming `field`."""
    if name in frame.columns:
        if policy == "change":
            raise AggregateRefused(field, f"{name} does not depend on the policy: it has no change")
        return frame[name]
    columns = {p: policy_column(p, name) for p in POLICIES}
    if all(column in frame.columns for column in columns.values()):
        if policy == "change":
            reform = frame[columns["reform"]].astype("float64")
            baseline = frame[columns["baseline"]].astype("float64")
            return reform - baseline
        return frame[columns[policy]]
    raise AggregateRefused(
        field,
        f"{name} was not stored in these {frame.attrs.get('entity', '')} results; stored: "
        f"{', '.join(stored_variables(frame))}. Request it with `outputs` when creating "
        "the simulation",
    )


def compute_aggregate(frame: pd.DataFrame, request: AggregateRequest) -> dict[str, Any]:
    """{value, rows, weight} over the selected rows, and `groups` with `group_by`."""
    frame.attrs["entity"] = request.entity
    selected = np.ones(len(frame), dtype=bool)
    for position, condition in enumerate(request.filter):
        field = f"filter[{position}].variable"
        selected &= _matches(column_values(frame, condition.variable, "baseline", field), condition)
    weights = frame[WEIGHTS[request.entity]].to_numpy(dtype=np.float64)
    if request.stat == "count":
        x = np.ones(len(frame))
    else:
        x = column_values(frame, request.variable, request.policy, "variable").to_numpy(
            dtype=np.float64
        )
    result: dict[str, Any] = {
        "value": statistic(x[selected], weights[selected], request),
        "rows": int(selected.sum()),
        "weight": float(weights[selected].sum()),
    }
    if request.group_by is not None:
        keys = column_values(frame, request.group_by, "baseline", "group_by").astype(str).to_numpy()
        groups = sorted(set(keys[selected]))
        if len(groups) > MAX_GROUPS:
            raise AggregateRefused(
                "group_by", f"{request.group_by} has more than {MAX_GROUPS} values"
            )
        result["groups"] = {
            key: statistic(x[selected & (keys == key)], weights[selected & (keys == key)], request)
            for key in groups
        }
    return result


def statistic(x: Floats, weights: Floats, request: AggregateRequest) -> float | None:
    """The weighted statistic of `x`; None where it has no finite value (no rows)."""
    total_weight = float(weights.sum())
    if request.stat in ("sum", "count"):
        return number(float((weights * x).sum()))
    if total_weight == 0:
        return None
    if request.stat == "mean":
        return number(float((weights * x).sum()) / total_weight)
    q = 0.5 if request.stat == "median" else float(request.q or 0)
    return number(weighted_percentile(x, weights, q * 100))


def _matches(values: pd.Series[Any], condition: Condition) -> np.ndarray[Any, np.dtype[np.bool_]]:
    target = condition.value
    if condition.op == "in":
        options = target if isinstance(target, list) else [target]
        return values.astype(str).isin([str(v) for v in options]).to_numpy()
    if isinstance(target, list):
        raise AggregateRefused("filter", f"op {condition.op} takes one value, not a list")
    if isinstance(target, str):
        text = values.astype(str)
        compared = {
            "eq": text == target,
            "ne": text != target,
            "lt": text < target,
            "le": text <= target,
            "gt": text > target,
            "ge": text >= target,
        }[condition.op]
        return compared.to_numpy(dtype=bool)
    numbers = values.astype("float64")
    value = float(target)
    compared = {
        "eq": numbers == value,
        "ne": numbers != value,
        "lt": numbers < value,
        "le": numbers <= value,
        "gt": numbers > value,
        "ge": numbers >= value,
    }[condition.op]
    return compared.to_numpy(dtype=bool)
