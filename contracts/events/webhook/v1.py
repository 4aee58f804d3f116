"""Webhook events, version 1."""

from __future__ import annotations

from typing import ClassVar, Literal

from contracts.envelope import EventPayload


class WebhookEndpointDisabled(EventPayload):
    """A webhook endpoint stopped receiving deliveries.

    `reason` is `gone` when the endpoint answered HTTP 410, `failures` when it failed
    `consecutive_failures` attempts in a row.
    """

    event_type: ClassVar[str] = "webhook.endpoint.disabled"

    endpoint_id: str
    owner: str
    url: str
    reason: Literal["gone", "failures"]
    consecutive_failures: int


class WebhookTest(EventPayload):
    """A test delivery an endpoint's owner asked for; only ever sent to that endpoint."""

    event_type: ClassVar[str] = "webhook.test"

    endpoint_id: str
    message: str
