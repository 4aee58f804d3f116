"""Report events, version 1."""

from __future__ import annotations

from typing import ClassVar

from contracts.envelope import EventPayload


class ReportCompleted(EventPayload):
    """The impact report of a simulation is ready to read."""

    event_type: ClassVar[str] = "report.completed"

    simulation_id: str
    report_id: str
    budgetary_impact: float
    households: float
