"""The delivery loop: claims due deliveries, sends them, records every attempt.

Due deliveries are claimed with `FOR UPDATE SKIP LOCKED` and kept locked until their
outcome is committed, so several processes can run the loop and a delivery whose
success was committed is never sent again, whatever restarts in between.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

import httpx

from contracts.envelope import CloudEvent
from contracts.events.webhook.v1 import WebhookEndpointDisabled
from services.webhooks.adapters.sender import (
    AttemptOutcome,
    attempt,
    http_client,
    unsigned,
)
from services.webhooks.db import deliveries as delivery_log
from services.webhooks.db import endpoints as store
from services.webhooks.domain.schedule import retry_delay
from services.webhooks.domain.sealing import UnsealableSecret, unseal
from shared.db import Database, UnitOfWork
from shared.metrics import WEBHOOK_DELIVERIES
from shared.settings import Settings
from shared.tracing import span_in_event_trace

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 30.0


class DeliveryLoop:
    """Sends the deliveries of one service process."""

    def __init__(self, database: Database, settings: Settings, source: str) -> None:
        self._database = database
        self._settings = settings
        self._source = source
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for due deliveries now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; an attempt under way is finished and recorded."""
        poll = self._settings.webhooks_poll_seconds
        pause = poll
        async with http_client(self._settings) as client:
            while not stop.is_set():
                self._wake.clear()
                try:
                    if await self.deliver_due(client):
                        pause = poll
                        continue
                    pause = poll
                except Exception as exc:  # the loop must outlive any database fault
                    log.warning("delivery loop failed, retrying: %s: %s", type(exc).__name__, exc)
                    pause = min(max(pause * 2, 0.5), MAX_BACKOFF_SECONDS)
                await self._sleep(pause, stop)

    async def deliver_due(self, client: httpx.AsyncClient) -> int:
        """Send one batch of due deliveries; how many were attempted."""
        async with self._database.unit_of_work() as uow:
            rows = await delivery_log.claim_due(uow, self._settings.webhooks_batch_size)
            if not rows:
                return 0
            outcomes = await asyncio.gather(*(self._attempt(client, row) for row in rows))
            # Endpoint rows are updated in one order in every process: no deadlocks.
            for row, outcome in sorted(
                zip(rows, outcomes, strict=True), key=lambda p: (p[0].endpoint_id, p[0].id)
            ):
                await self._record(uow, row, outcome)
            await uow.commit()
            return len(rows)

    async def _attempt(self, client: httpx.AsyncClient, row: Any) -> AttemptOutcome:
        """One attempt, traced in the trace of the event it delivers, counted by outcome."""
        with span_in_event_trace(
            "deliver webhook",
            row.body,
            {"messaging.message.id": row.event_id, "fiscus.webhook.endpoint": row.endpoint_id},
        ) as span:
            try:
                secret = unseal(row.secret, self._settings.webhooks_secret_key.get_secret_value())
            except UnsealableSecret as exc:
                outcome = unsigned(str(exc))
            else:
                outcome = await attempt(
                    client,
                    self._settings,
                    url=row.url,
                    secret=secret,
                    message_id=row.event_id,
                    body=row.body,
                )
            result = "succeeded" if outcome.succeeded else "gone" if outcome.gone else "failed"
            span.set_attribute("fiscus.webhook.outcome", result)
            if outcome.status_code is not None:
                span.set_attribute("http.response.status_code", outcome.status_code)
        WEBHOOK_DELIVERIES.labels(result).inc()
        return outcome

    async def _record(self, uow: UnitOfWork, row: Any, outcome: AttemptOutcome) -> None:
        await delivery_log.record_attempt(
            uow,
            row.id,
            attempted_at=outcome.attempted_at,
            succeeded=outcome.succeeded,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            response_excerpt=outcome.response_excerpt,
            error=outcome.error,
        )
        made = row.attempts + 1
        if outcome.succeeded:
            await delivery_log.set_delivery(uow, row.id, made, "succeeded")
            await store.reset_failures(uow, row.endpoint_id)
            return
        failures = await store.count_failure(uow, row.endpoint_id)
        if outcome.gone:
            await delivery_log.set_delivery(uow, row.id, made, "failed")
            await self._disable(uow, row.endpoint_id, "gone", failures)
            return
        if failures >= self._settings.webhooks_disable_after_failures:
            await delivery_log.set_delivery(uow, row.id, made, "failed")
            await self._disable(uow, row.endpoint_id, "failures", failures)
            return
        delay = retry_delay(
            made, self._settings.webhooks_retry_schedule, self._settings.webhooks_retry_jitter
        )
        if delay is None:
            await delivery_log.set_delivery(uow, row.id, made, "failed")
        else:
            await delivery_log.set_delivery(uow, row.id, made, "pending", delay)

    async def _disable(
        self,
        uow: UnitOfWork,
        endpoint_id: str,
        reason: Literal["gone", "failures"],
        failures: int,
    ) -> None:
        """Disable an endpoint that is still enabled and announce it."""
        described = (
            "the endpoint answered 410 Gone"
            if reason == "gone"
            else f"{failures} consecutive failed attempts"
        )
        disabled = await store.disable_endpoint(uow, endpoint_id, described)
        if disabled is None:
            return
        log.warning("webhook endpoint %s disabled: %s", endpoint_id, described)
        await uow.publish(
            CloudEvent.wrap(
                WebhookEndpointDisabled(
                    endpoint_id=endpoint_id,
                    owner=disabled["owner"],
                    url=disabled["url"],
                    reason=reason,
                    consecutive_failures=failures,
                ),
                source=self._source,
                subject=endpoint_id,
            )
        )

    async def _sleep(self, seconds: float, stop: asyncio.Event) -> None:
        waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())}
        _, pending = await asyncio.wait(
            waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
