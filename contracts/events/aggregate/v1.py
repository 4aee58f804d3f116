"""Custom aggregate events, version 1."""

from __future__ import annotations

from typing import ClassVar

from contracts.envelope import EventPayload


class AggregateCompleted(EventPayload):
    """A custom aggregate over a simulation's stored results was computed."""

    event_type: ClassVar[str] = "aggregate.completed"

    simulation_id: str
    aggregate_id: str
    variable: str
    entity: str
    """`household` or `person`."""
    stat: str
    """`sum`, `mean`, `median`, `count` or `quantile`."""
    policy: str
    """`baseline`, `reform` or `change` (reform minus baseline)."""
    year: int
    value: float | None = None
    """The statistic over every selected row; null when it has no finite value."""
    groups: dict[str, float | None] | None = None
    """With `group_by`: the statistic per group value."""
