"""The aggregation API's request and response bodies: impact reports, custom aggregates.

An aggregate's request body, `AggregateRequest`, is the question domain/aggregates.py
answers, so it is defined there and only named here, beside the bodies that carry it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from services.aggregation.domain.aggregates import AggregateRequest

__all__ = ["Aggregate", "AggregateRequest", "ImpactReport"]


class ImpactReport(BaseModel):
    """A simulation's impact report, with PolicyEngine API v1's economy-output keys."""

    report_id: str
    simulation_id: str
    dataset_id: str
    policy_id: str
    baseline_policy_id: str | None
    year: int
    model_version: str
    created_at: datetime
    report: dict[str, Any]
    """The report of `year` (the first year of a budget window)."""
    years: list[int]
    """The years simulated, first first; one for a single-year simulation."""
    reports_by_year: dict[str, dict[str, Any]] | None = None
    """With several years: each year's report, keyed by the year."""
    budget_window: dict[str, Any] | None = None
    """With several years: each year's budget numbers and their totals."""


class Aggregate(BaseModel):
    """A computed aggregate: the request, and the statistic over the selected rows."""

    aggregate_id: str
    simulation_id: str
    year: int
    request: AggregateRequest
    value: float | None
    """The statistic over every selected row (null: no finite value, e.g. no rows)."""
    rows: int
    """How many result rows were selected."""
    weight: float
    """Their total weight (households or people represented)."""
    groups: dict[str, float | None] | None = None
    """With `group_by`: the statistic per value of that column."""
