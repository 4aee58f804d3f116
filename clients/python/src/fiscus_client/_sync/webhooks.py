# Generated from fiscus_client/_async by clients/python/generate_sync.py: edit that.
"""Webhook endpoints: where Fiscus sends the caller's events, and what it delivered."""

from __future__ import annotations

from collections.abc import Sequence

from fiscus_client._sync.base import Base
from fiscus_client.models import Delivery, Page, WebhookEndpoint, WebhookSecret
from fiscus_client.transport import without_none


class Webhooks(Base):
    """Register, change and test webhook endpoints; read and repeat their deliveries."""

    def create_webhook(
        self, url: str, event_types: Sequence[str], *, description: str = ""
    ) -> WebhookEndpoint:
        """Register an endpoint for `event_types`; its signing `secret` is in this answer only."""
        body = {"url": url, "event_types": list(event_types), "description": description}
        return self._one(WebhookEndpoint, "POST", "/api/v1/webhooks", json=body)

    def list_webhooks(self, *, limit: int = 20, cursor: str | None = None) -> Page[WebhookEndpoint]:
        """The caller's endpoints, newest first."""
        return self._page(WebhookEndpoint, "/api/v1/webhooks", limit=limit, cursor=cursor)

    def get_webhook(self, endpoint_id: str) -> WebhookEndpoint:
        """One of the caller's endpoints."""
        return self._one(WebhookEndpoint, "GET", f"/api/v1/webhooks/{endpoint_id}")

    def update_webhook(
        self,
        endpoint_id: str,
        *,
        url: str | None = None,
        event_types: Sequence[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
        if_match: str | None = None,
    ) -> WebhookEndpoint:
        """Change an endpoint; `enabled=True` turns a disabled one back on.

        The change applies to the version `if_match` names (an ETag), by default the one
        read just before: FiscusError 412 if someone changed it in between.
        """
        path = f"/api/v1/webhooks/{endpoint_id}"
        body = without_none(
            {
                "url": url,
                "event_types": None if event_types is None else list(event_types),
                "description": description,
                "enabled": enabled,
            }
        )
        headers = {"If-Match": self._etag(path, if_match)}
        return self._one(WebhookEndpoint, "PATCH", path, json=body, headers=headers)

    def delete_webhook(self, endpoint_id: str, *, if_match: str | None = None) -> None:
        """Delete an endpoint: it receives nothing more (its deliveries stay readable)."""
        path = f"/api/v1/webhooks/{endpoint_id}"
        self.request("DELETE", path, headers={"If-Match": self._etag(path, if_match)})

    def rotate_webhook_secret(self, endpoint_id: str) -> WebhookSecret:
        """Replace the endpoint's signing secret; the new one is in this answer only."""
        path = f"/api/v1/webhooks/{endpoint_id}/rotate-secret"
        return self._one(WebhookSecret, "POST", path)

    def test_webhook(self, endpoint_id: str) -> Delivery:
        """Send the endpoint a `webhook.test` event; the delivery queued."""
        return self._one(Delivery, "POST", f"/api/v1/webhooks/{endpoint_id}/test")

    def list_deliveries(
        self, endpoint_id: str, *, limit: int = 20, cursor: str | None = None
    ) -> Page[Delivery]:
        """The endpoint's deliveries with their attempts, newest first."""
        path = f"/api/v1/webhooks/{endpoint_id}/deliveries"
        return self._page(Delivery, path, limit=limit, cursor=cursor)

    def redeliver(self, endpoint_id: str, delivery_id: str) -> Delivery:
        """Send a delivery's event again, as a new delivery."""
        path = f"/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver"
        return self._one(Delivery, "POST", path)
