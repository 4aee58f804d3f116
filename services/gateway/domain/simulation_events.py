"""What a simulation's Server-Sent Events stream says (api/events.py writes it).

A stream starts with the simulation's current state (`status`, or its final event when
it has already ended), then carries `progress` events and ends with exactly one of
`completed`, `failed` or `cancelled`. Each event's data is one JSON object with the
simulation id and its status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Event types on the bus, and the SSE event each becomes.
STREAMED_EVENTS: dict[str, str] = {
    "simulation.progress": "progress",
    "simulation.completed": "completed",
    "simulation.failed": "failed",
    "simulation.cancelled": "cancelled",
}
FINAL_EVENTS = frozenset({"completed", "failed", "cancelled"})
# How long a client waits before reconnecting after the connection dropped.
RETRY_MILLISECONDS = 3000


@dataclass(frozen=True)
class StreamEvent:
    """One Server-Sent Event of a simulation's stream."""

    event: str
    data: dict[str, Any]
    id: str | None = None

    @property
    def is_final(self) -> bool:
        """The stream ends after this event: the simulation will not change again."""
        return self.event in FINAL_EVENTS


def event_of_state(simulation: dict[str, Any]) -> StreamEvent:
    """The first event of a stream, from the simulation as `GET /simulations/{id}` shows it.

    A simulation that has already ended is announced by its final event, so a stream
    opened after the end closes at once.
    """
    status = str(simulation.get("status", ""))
    event = status if status in FINAL_EVENTS else "status"
    data = {"simulation_id": simulation.get("id"), "status": status, "simulation": simulation}
    return StreamEvent(event=event, data=data, id=f"state-{status}")


def event_of_cloudevent(cloudevent: dict[str, Any]) -> StreamEvent | None:
    """The stream event a bus event becomes, or None for an event streams do not carry."""
    event = STREAMED_EVENTS.get(str(cloudevent.get("type")))
    payload = cloudevent.get("data")
    if event is None or not isinstance(payload, dict):
        return None
    status = "running" if event == "progress" else event
    return StreamEvent(
        event=event,
        data={**payload, "status": status},
        id=str(cloudevent["id"]) if cloudevent.get("id") is not None else None,
    )


def simulation_of(cloudevent: dict[str, Any]) -> str | None:
    """The simulation a bus event is about."""
    payload = cloudevent.get("data")
    if isinstance(payload, dict) and isinstance(payload.get("simulation_id"), str):
        return str(payload["simulation_id"])
    subject = cloudevent.get("subject")
    return str(subject) if isinstance(subject, str) else None
