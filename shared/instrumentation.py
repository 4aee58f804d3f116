"""Traces and metrics around what crosses a process boundary: HTTP requests and events.

The spans are OpenTelemetry's instrumentations': `instrument_app` adds FastAPI's (a
server span per request, continuing the caller's trace; none for probes and scrapes),
`instrument_http_client` httpx's (a client span per call, whose context the request
carries on), and the broker runs FastStream's telemetry middleware (`make_broker`). What
is Fiscus's own here is metrics and the request id: `HttpLatency` observes each
request's latency by route template and status, `ConsumeTelemetry` counts messages
consumed, failed and dead-lettered by event type and restores the request id, and
`send_request_id` is an httpx hook that sends the request id on.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx
from fastapi import FastAPI
from faststream import BaseMiddleware
from faststream.message import StreamMessage
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.logs import request_id_var
from shared.metrics import (
    HTTP_REQUEST_SECONDS,
    MESSAGE_HANDLING_SECONDS,
    MESSAGES_CONSUMED,
    MESSAGES_DEAD_LETTERED,
    MESSAGES_FAILED,
    MetricRefresher,
    metrics_router,
)
from shared.tracing import REQUEST_ID_HEADER, request_id_from

# Probes and scrapes: measured, but no span (they would drown the traces).
UNTRACED_PATHS = ("/healthz", "/readyz", "/metrics")


class HttpLatency:
    """ASGI middleware: a latency observation per HTTP request, by route and status."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self._observe(scope, method, status, started)

    def _observe(self, scope: Scope, method: str, status: int, started: float) -> str:
        route = route_template(scope)
        HTTP_REQUEST_SECONDS.labels(self.service, method, route, str(status)).observe(
            time.perf_counter() - started
        )
        return route


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/simulations/{id}`); unmatched paths are one label."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    return str(template) if template else "unmatched"


def instrument_app(app: FastAPI, service: str, refreshers: Sequence[MetricRefresher] = ()) -> None:
    """Add `GET /metrics`, the latency middleware and FastAPI's instrumentation to an app
    (a server span per request named `METHOD route`, without ASGI's send and receive)."""
    app.include_router(metrics_router(refreshers))
    app.add_middleware(HttpLatency, service=service)
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls=",".join(UNTRACED_PATHS), exclude_spans=["receive", "send"]
    )


def instrument_http_client(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """`client` with httpx's instrumentation (a client span per call, its context sent
    on as `traceparent`) and the request id sent on; the same client."""
    HTTPXClientInstrumentor.instrument_client(client)
    client.event_hooks["request"].append(send_request_id)
    return client


async def send_request_id(request: httpx.Request) -> None:
    """httpx request hook: send the current request id on."""
    request_id = request_id_var.get()
    if request_id:
        request.headers.setdefault(REQUEST_ID_HEADER, request_id)


class ConsumeTelemetry(BaseMiddleware):
    """Broker middleware: message counters per delivery, and the request id it carries
    (inside FastStream's telemetry middleware, whose consumer span is current here)."""

    delivery_limit = 0

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        raw = msg.raw_message
        event_type = str(getattr(raw, "routing_key", None) or "unknown")
        headers: dict[str, Any] = dict(msg.headers or {})
        request_id = request_id_from(headers)
        token = request_id_var.set(request_id) if request_id else None
        started = time.perf_counter()
        try:
            result = await call_next(msg)
        except Exception:
            MESSAGES_FAILED.labels(event_type).inc()
            if previous_deliveries(headers) >= self.delivery_limit:
                MESSAGES_DEAD_LETTERED.labels(event_type).inc()
                trace.get_current_span().set_attribute("messaging.dead_lettered", True)
            raise
        else:
            MESSAGES_CONSUMED.labels(event_type).inc()
            return result
        finally:
            MESSAGE_HANDLING_SECONDS.labels(event_type).observe(time.perf_counter() - started)
            if token is not None:
                request_id_var.reset(token)


def previous_deliveries(headers: dict[str, Any]) -> int:
    """Earlier failed deliveries of this message (the quorum queue's `x-delivery-count`)."""
    try:
        return int(headers.get("x-delivery-count") or 0)
    except (TypeError, ValueError):
        return 0


def consume_telemetry(delivery_limit: int) -> type[ConsumeTelemetry]:
    """The broker middleware for queues that dead-letter after `delivery_limit` redeliveries."""
    return type("ConsumeTelemetry", (ConsumeTelemetry,), {"delivery_limit": delivery_limit})
