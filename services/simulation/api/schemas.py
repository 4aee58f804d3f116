"""The simulation API's request and response bodies.

`SimulationRequest` is also what admissions and the `simulation.requested` event read,
and `SimulationResource` (with `SimulationPage`) is shaped from a row beside the status
rules it shows; both live in domain/simulations.py and are only named here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.simulation.domain.households import DEFAULT_VARIABLES
from services.simulation.domain.simulations import (
    SimulationPage,
    SimulationRequest,
    SimulationResource,
)

__all__ = [
    "BatchItem",
    "BatchResult",
    "HouseholdCalculation",
    "HouseholdCalculationRequest",
    "SimulationBatch",
    "SimulationPage",
    "SimulationRequest",
    "SimulationResource",
]

MAX_BATCH = 100


class HouseholdCalculationRequest(BaseModel):
    """The body of `POST /api/v1/households/calculate`."""

    model_config = ConfigDict(extra="forbid")

    household: dict[str, Any] = Field(
        description="PolicyEngine's household JSON: people, tax_units, families, spm_units, "
        'households, marital_units; values keyed by period; `{"2026": null}` asks for a value.'
    )
    policy: dict[str, dict[str, Any]] | None = Field(
        default=None, description="A reform in PolicyEngine's format; current law when absent."
    )
    policy_id: str | None = Field(
        default=None, min_length=1, max_length=200, description="A stored policy, instead."
    )
    variables: list[str] | None = Field(
        default=None,
        max_length=200,
        description="Variables to calculate at the household's latest year; "
        f"by default {', '.join(DEFAULT_VARIABLES)}.",
    )

    @model_validator(mode="after")
    def _one_policy(self) -> HouseholdCalculationRequest:
        if self.policy is not None and self.policy_id is not None:
            raise ValueError("give either policy or policy_id, not both")
        return self


class HouseholdCalculation(BaseModel):
    """The household as sent, with the calculated values in place."""

    household: dict[str, Any]
    model_version: str


class SimulationBatch(BaseModel):
    """Simulations to request together, e.g. one dataset under twenty reforms."""

    model_config = ConfigDict(extra="forbid")

    simulations: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="Each item is the body of `POST /api/v1/simulations`.",
        json_schema_extra={"items": {"$ref": "#/components/schemas/SimulationRequest"}},
    )


class BatchItem(BaseModel):
    """What became of one item: a new simulation (202) or an existing equal one (200)."""

    index: int
    status: int = Field(description="202: a new simulation; 200: an equal one existed")
    simulation: SimulationResource


class BatchResult(BaseModel):
    """The items in the order sent."""

    items: list[BatchItem]
    accepted: int = Field(description="New simulations (items answered 202)")
    existing: int = Field(description="Items answered with an existing simulation (200)")
