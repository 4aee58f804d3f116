"""Typed objects for what Fiscus answers; unknown keys are kept, so newer servers still parse."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

Item = TypeVar("Item")
DECILES = tuple(str(decile) for decile in range(1, 11))


class FiscusModel(BaseModel):
    """Base of every SDK model: extra keys from the server are kept as attributes."""

    model_config = ConfigDict(extra="allow")


class Page(FiscusModel, Generic[Item]):
    """One page of a list; pass `next_cursor` back for the next page."""

    items: list[Item]
    next_cursor: str | None = None


class Dataset(FiscusModel):
    """A registered population."""

    id: str
    name: str
    sha256: str | None = None
    year: int | None = None
    households: int | None = None
    people: int | None = None
    storage_uri: str | None = None
    created_at: datetime | None = None
    upload_format: str | None = None


class Policy(FiscusModel):
    """A stored reform in PolicyEngine's format."""

    id: str
    name: str
    description: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    sha256: str | None = None
    visibility: str | None = None
    created_at: datetime | None = None


class SimulationError(FiscusModel):
    """Why a simulation failed."""

    type: str
    reason: str


class Simulation(FiscusModel):
    """A simulation's state; `results` once it completed."""

    id: str
    status: str
    dataset_id: str
    policy_id: str
    baseline_policy_id: str | None = None
    year: int
    region: str = "us"
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    error: SimulationError | None = None
    results: list[dict[str, Any]] | None = None

    @property
    def finished(self) -> bool:
        """Whether the simulation ended (completed, failed or cancelled)."""
        return self.status in ("completed", "failed", "cancelled")


class SimulationEvent(FiscusModel):
    """One event of a simulation's live stream (`status`, `progress` or a final one)."""

    event: str
    simulation_id: str | None = None
    status: str | None = None
    partitions_done: int | None = None
    partitions_total: int | None = None
    households_done: int | None = None
    households_total: int | None = None
    elapsed_seconds: float | None = None
    estimated_seconds_left: float | None = None
    reason: str | None = None


class BaselineReform(FiscusModel):
    """A measure under the baseline and under the reform."""

    baseline: float | None = None
    reform: float | None = None


class Budget(FiscusModel):
    """Budgetary impact, in dollars per year."""

    tax_revenue_impact: float | None = None
    state_tax_revenue_impact: float | None = None
    benefit_spending_impact: float | None = None
    budgetary_impact: float | None = None
    households: float | None = None
    baseline_net_income: float | None = None


class DecileImpact(FiscusModel):
    """Average and relative change of net income per baseline income decile ("1".."10")."""

    average: dict[str, float | None] = Field(default_factory=dict)
    relative: dict[str, float | None] = Field(default_factory=dict)


class Inequality(FiscusModel):
    """Gini index and top income shares."""

    gini: BaselineReform | None = None
    top_10_pct_share: BaselineReform | None = None
    top_1_pct_share: BaselineReform | None = None


class BaselineCliff(FiscusModel):
    """Income lost at tax-benefit cliffs, and the share of adults on one, under a policy."""

    cliff_gap: float | None = None
    cliff_share: float | None = None


class ImpactReport(FiscusModel):
    """The report's sections, with PolicyEngine API v1's economy-output keys."""

    budget: Budget | None = None
    decile: DecileImpact | None = None
    inequality: Inequality | None = None
    poverty: dict[str, dict[str, BaselineReform]] | None = None
    poverty_by_gender: dict[str, dict[str, BaselineReform]] | None = None
    intra_decile: dict[str, Any] | None = None
    labor_supply_response: dict[str, Any] | None = None
    # Only when the dataset gives net worth, district GEOIDs; with the cliff outputs.
    wealth_decile: DecileImpact | None = None
    intra_wealth_decile: dict[str, Any] | None = None
    congressional_district_impact: dict[str, Any] | None = None
    cliff_impact: dict[str, BaselineCliff] | None = None


class Report(FiscusModel):
    """The impact report of a completed simulation."""

    report_id: str
    simulation_id: str
    dataset_id: str | None = None
    policy_id: str | None = None
    baseline_policy_id: str | None = None
    year: int | None = None
    model_version: str | None = None
    created_at: datetime | None = None
    report: ImpactReport

    def budget_frame(self) -> pd.DataFrame:
        """The budget section as a one-column frame (index: measure)."""
        budget = self.report.budget or Budget()
        values = budget.model_dump(exclude_none=False)
        frame: pd.DataFrame = pd.DataFrame({"value": pd.Series(values, dtype="float64")})
        return frame

    def deciles_frame(self) -> pd.DataFrame:
        """Average and relative net income change by decile (index 1..10)."""
        decile = self.report.decile or DecileImpact()
        frame: pd.DataFrame = pd.DataFrame(
            {
                "average": [decile.average.get(d) for d in DECILES],
                "relative": [decile.relative.get(d) for d in DECILES],
            },
            index=pd.Index(range(1, 11), name="decile"),
            dtype="float64",
        )
        return frame

    def poverty_frame(self) -> pd.DataFrame:
        """Poverty rates by measure and group, baseline and reform, with the change."""
        rows = []
        for measure, groups in (self.report.poverty or {}).items():
            for group, rates in groups.items():
                rows.append(
                    {
                        "measure": measure,
                        "group": group,
                        "baseline": rates.baseline,
                        "reform": rates.reform,
                    }
                )
        frame: pd.DataFrame = pd.DataFrame(rows, columns=["measure", "group", "baseline", "reform"])
        frame[["baseline", "reform"]] = frame[["baseline", "reform"]].astype("float64")
        frame["change"] = frame["reform"] - frame["baseline"]
        indexed: pd.DataFrame = frame.set_index(["measure", "group"])
        return indexed

    def inequality_frame(self) -> pd.DataFrame:
        """Gini and top shares, baseline and reform (index: measure)."""
        inequality = self.report.inequality or Inequality()
        rows = {
            name: {"baseline": value.baseline, "reform": value.reform}
            for name in ("gini", "top_10_pct_share", "top_1_pct_share")
            if (value := getattr(inequality, name)) is not None
        }
        frame: pd.DataFrame = pd.DataFrame.from_dict(
            rows, orient="index", columns=["baseline", "reform"], dtype="float64"
        )
        return frame


class ApiKey(FiscusModel):
    """An API key without its secret (`secret` only in the answer that created it)."""

    id: str
    name: str
    role: str
    prefix: str | None = None
    created_at: datetime | None = None
    revoked_at: datetime | None = None
    daily_simulation_quota: int | None = None
    rate_limit: str | None = None
    secret: str | None = None


class ParameterValue(FiscusModel):
    """A parameter's value from a date on."""

    start: str
    value: Any


class Parameter(FiscusModel):
    """A policyengine-us parameter a reform can set."""

    name: str
    label: str | None = None
    description: str | None = None
    unit: str | None = None
    period: str | None = None
    values: list[ParameterValue] | None = None


class Variable(FiscusModel):
    """A policyengine-us variable."""

    name: str
    label: str | None = None
    entity: str | None = None
    unit: str | None = None
    definition_period: str | None = None
    value_type: str | None = None
    documentation: str | None = None
    default_value: Any = None
    possible_values: list[str] | None = None


class AuditEntry(FiscusModel):
    """One change sent through the gateway, and how it was answered (admins read the log)."""

    id: str
    created_at: datetime
    principal: str
    role: str
    method: str
    path: str
    resource_type: str | None = None
    resource_id: str | None = None
    status: int
    request_id: str | None = None


class Aggregate(FiscusModel):
    """A weighted statistic of a stored result column, overall and per group."""

    aggregate_id: str
    simulation_id: str
    year: int
    request: dict[str, Any]
    value: float | None = None
    rows: int
    weight: float
    groups: dict[str, float | None] | None = None


class WebhookEndpoint(FiscusModel):
    """A URL that receives the caller's events, signed (Standard Webhooks)."""

    id: str
    url: str
    event_types: list[str]
    description: str = ""
    enabled: bool
    disabled_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    secret: str | None = None
    """Only in the answer that created the endpoint."""


class WebhookSecret(FiscusModel):
    """An endpoint's new signing secret, shown once."""

    id: str
    secret: str


class DeliveryAttempt(FiscusModel):
    """One try at delivering an event."""

    attempted_at: datetime
    succeeded: bool
    status_code: int | None = None
    latency_ms: int
    response_excerpt: str | None = None
    error: str | None = None


class Delivery(FiscusModel):
    """An event queued for an endpoint, with its attempts."""

    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: str
    attempt_count: int
    next_attempt_at: datetime | None = None
    redelivery_of: str | None = None
    created_at: datetime
    attempts: list[DeliveryAttempt] = Field(default_factory=list)
