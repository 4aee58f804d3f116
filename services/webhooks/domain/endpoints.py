"""Which events an endpoint may subscribe to (who owns it: shared.principals)."""

from __future__ import annotations

from collections.abc import Sequence

from contracts.catalog import PAYLOAD_BY_TYPE

ALL_EVENTS = "*"

# Every published event type except the webhooks service's own, which are about
# endpoints and go to the event bus only.
SUBSCRIBABLE_EVENT_TYPES: tuple[str, ...] = tuple(
    sorted(t for t in PAYLOAD_BY_TYPE if not t.startswith("webhook."))
)


def unknown_event_types(event_types: Sequence[str]) -> list[str]:
    """The event types of `event_types` no endpoint can subscribe to."""
    return [t for t in event_types if t != ALL_EVENTS and t not in SUBSCRIBABLE_EVENT_TYPES]


def consumer_name(event_type: str) -> str:
    """The consumer (and queue) of one event type, e.g. `webhooks.simulation-completed`."""
    return "webhooks." + event_type.replace(".", "-")


def excerpt(body: bytes, limit: int = 512) -> str:
    """The first bytes of a response, as text, for the delivery log."""
    return body[:limit].decode("utf-8", errors="replace")
