"""Prometheus metrics of every Fiscus process, served at `/metrics`.

The metric objects live here, in the process's default registry, so that any part of
Fiscus records into them by importing this module. Gauges that describe stored state
(outbox backlog, partitions by state, warm systems) are refreshed when scraped: a
process registers async refreshers with `ServiceProcess.metric_refreshers`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from fastapi import APIRouter
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.responses import Response

log = logging.getLogger(__name__)

MetricRefresher = Callable[[], Awaitable[None]]

HTTP_REQUEST_SECONDS = Histogram(
    "fiscus_http_request_duration_seconds",
    "HTTP requests served, by route template and status.",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
MESSAGES_CONSUMED = Counter(
    "fiscus_messages_consumed",
    "Events a consumer handled successfully, by event type.",
    ["event_type"],
)
MESSAGES_FAILED = Counter(
    "fiscus_messages_failed",
    "Deliveries whose handler failed (the message is requeued or dead-lettered).",
    ["event_type"],
)
MESSAGES_DEAD_LETTERED = Counter(
    "fiscus_messages_dead_lettered",
    "Events that failed on their last allowed delivery and went to the dead-letter queue.",
    ["event_type"],
)
MESSAGES_PUBLISHED = Counter(
    "fiscus_messages_published",
    "Events the outbox relay published and the broker confirmed, by event type.",
    ["event_type"],
)
MESSAGE_HANDLING_SECONDS = Histogram(
    "fiscus_message_handling_seconds",
    "Time a consumer spent on one delivery, by event type.",
    ["event_type"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900),
)
OUTBOX_BACKLOG = Gauge(
    "fiscus_outbox_backlog",
    "Outbox rows not yet confirmed by the broker.",
    ["service"],
)
OUTBOX_OLDEST_AGE_SECONDS = Gauge(
    "fiscus_outbox_oldest_age_seconds",
    "Age of the oldest unsent outbox row (0 when the outbox is empty).",
    ["service"],
)
PARTITIONS = Gauge(
    "fiscus_partitions",
    "Simulation partitions by state (queued, running, done, failed).",
    ["state"],
)
SIMULATIONS = Gauge(
    "fiscus_simulations",
    "Simulations by status.",
    ["status"],
)
SIMULATION_SECONDS = Histogram(
    "fiscus_simulation_duration_seconds",
    "Wall-clock time of a simulation's calculation, by population size.",
    ["size"],
    buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1200, 3600),
)
REFORM_ARMS = Counter(
    "fiscus_reform_arms_total",
    "Partitions' reform arms by how they were computed (reduced, full, none) and why in full.",
    ["path", "reason"],
)
BASELINE_RUNS = Counter(
    "fiscus_baseline_runs_total",
    "Partitions' baselines by where their values came from (calculated, memory, storage).",
    ["source"],
)
HOUSEHOLD_ANSWERS = Counter(
    "fiscus_household_answers_total",
    "Household calculations answered, by source: kept (an identical one answered before) "
    "or calculated; expired: dropped unanswered, its caller no longer waiting.",
    ["source"],
)
HOUSEHOLD_BATCH_SIZE = Histogram(
    "fiscus_household_batch_size",
    "Households calculated together in one micro-batch.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
HOUSEHOLD_BATCH_SECONDS = Histogram(
    "fiscus_household_batch_seconds",
    "Time to calculate one household micro-batch.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
WARM_SYSTEMS = Gauge(
    "fiscus_warm_systems_cached",
    "Tax-benefit systems (baseline and reforms) a worker holds built in memory.",
    ["process"],
)
READY = Gauge(
    "fiscus_ready",
    "1 when every readiness check of this process passes (a worker: its engine is warm).",
    ["service"],
)
WEBHOOK_DELIVERIES = Counter(
    "fiscus_webhook_deliveries",
    "Webhook delivery attempts, by outcome (succeeded, failed, gone).",
    ["outcome"],
)

SIZE_BUCKETS: tuple[tuple[int, str], ...] = (
    (1_000, "lt_1k"),
    (10_000, "1k_10k"),
    (100_000, "10k_100k"),
)


def size_label(households: int) -> str:
    """The `size` label of a population of `households` households."""
    for bound, label in SIZE_BUCKETS:
        if households < bound:
            return label
    return "ge_100k"


async def refresh(refreshers: Sequence[MetricRefresher], timeout: float = 3.0) -> None:
    """Run every refresher; one that fails or hangs leaves its gauges as they were."""
    for refresher in refreshers:
        try:
            await asyncio.wait_for(refresher(), timeout=timeout)
        except Exception as exc:
            log.warning("metrics refresher failed: %s: %s", type(exc).__name__, exc)


def metrics_router(refreshers: Sequence[MetricRefresher]) -> APIRouter:
    """`GET /metrics` in the Prometheus text format, gauges refreshed first."""
    router = APIRouter(tags=["health"])

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        await refresh(refreshers)
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router
