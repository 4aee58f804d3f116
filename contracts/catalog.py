"""Every event type Fiscus publishes, with its payload model."""

from __future__ import annotations

from contracts.envelope import EventPayload
from contracts.events.aggregate.v1 import AggregateCompleted
from contracts.events.dataset.v1 import DatasetDeleted, DatasetRegistered
from contracts.events.policy.v1 import PolicyCreated, PolicyDeleted, PolicyVisibilityChanged
from contracts.events.report.v1 import ReportCompleted
from contracts.events.simulation.v1 import (
    SimulationCancelled,
    SimulationCompleted,
    SimulationFailed,
    SimulationPartitionRequested,
    SimulationProgress,
    SimulationRequested,
)
from contracts.events.webhook.v1 import WebhookEndpointDisabled

EVENT_PAYLOADS: tuple[type[EventPayload], ...] = (
    DatasetRegistered,
    DatasetDeleted,
    PolicyCreated,
    PolicyDeleted,
    PolicyVisibilityChanged,
    SimulationRequested,
    SimulationPartitionRequested,
    SimulationProgress,
    SimulationCompleted,
    SimulationFailed,
    SimulationCancelled,
    ReportCompleted,
    AggregateCompleted,
    WebhookEndpointDisabled,
)

PAYLOAD_BY_TYPE: dict[str, type[EventPayload]] = {p.event_type: p for p in EVENT_PAYLOADS}
