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
    years: list[int] = []
    """The budget window, first year first; empty means `[year]` alone."""
    outputs: list[str] = []
    """Extra policyengine-us variables to store in the household results."""


class ResultFile(BaseModel):
    """One file of results (households or people), of one year and one partition."""

    uri: str
    sha256: str
    rows: int
    name: str | None = None
    """`households.parquet` or `people.parquet`."""
    year: int | None = None
    partition: int | None = None


class SimulationPartitionRequested(EventPayload):
    """One partition (a group of states, one year) of a simulation waits for a worker."""

    event_type: ClassVar[str] = "simulation.partition.requested"

    simulation_id: str
    partition: int
    """Index of the partition, 0-based, in the simulation's plan."""
    partitions: int
    """How many partitions the simulation has, over every year."""
    year: int
    states: list[str]
    """Two-letter state codes whose households this partition computes."""
    households: int


class SimulationProgress(EventPayload):
    """A partition of a simulation finished; how far the whole simulation is."""

    event_type: ClassVar[str] = "simulation.progress"

    simulation_id: str
    partitions_done: int
    partitions_total: int
    households_done: int
    households_total: int
    elapsed_seconds: float
    estimated_seconds_left: float | None = None


class SimulationCompleted(EventPayload):
    """A simulation finished; its household-level results are stored."""

    event_type: ClassVar[str] = "simulation.completed"

    simulation_id: str
    dataset_id: str
    policy_id: str
    baseline_policy_id: str | None = None
    year: int
    years: list[int] = []
    """The budget window simulated; empty means `[year]` alone."""
    region: str = "us"
    partitions: int = 1
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
