"""Simulation events, version 1."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel

from contracts.envelope import EventPayload


class SimulationRequested(EventPayload):
    """A society-wide simulation was accepted and waits for a worker."""

    event_type: ClassVar[str] = "simulation.requested"

    simulation_id: str
    dataset_id: str
    policy_id: str
    baseline_policy_id: str | None = None
    year: int
    region: str = "us"


class ResultFile(BaseModel):
    """One file of household-level results."""

    uri: str
    sha256: str
    rows: int


class SimulationCompleted(EventPayload):
    """A simulation finished; its household-level results are stored."""

    event_type: ClassVar[str] = "simulation.completed"

    simulation_id: str
    dataset_id: str
    policy_id: str
    baseline_policy_id: str | None = None
    year: int
    results: list[ResultFile]
    model_version: str
    dataset_sha256: str
    started_at: datetime
    completed_at: datetime
    seconds: float


class SimulationFailed(EventPayload):
    """A simulation could not be completed; `reason` says why."""

    event_type: ClassVar[str] = "simulation.failed"

    simulation_id: str
    reason: str
    error_type: str


class SimulationCancelled(EventPayload):
    """A simulation was cancelled; workers skip it and discard a late result."""

    event_type: ClassVar[str] = "simulation.cancelled"

    simulation_id: str
    cancelled_at: datetime
