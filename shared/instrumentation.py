"""Traces and metrics around what crosses a process boundary: HTTP requests and events.

`HttpTelemetry` wraps an ASGI app: a server span per request (continuing the caller's
trace), and the request's latency by route template and status. `ConsumeTelemetry` is
the broker middleware: a consumer span per delivered message (continuing the
publisher's trace), and messages consumed, failed and dead-lettered by event type.
`inject_trace_headers` is an httpx request hook that sends the context on.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx
from fastapi import FastAPI
from faststream import BaseMiddleware
from faststream.message import StreamMessage
from opentelemetry.trace import SpanKind, Status, StatusCode
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
from shared.tracing import (
    context_from,
    propagation_headers,
    request_id_from,
    tracer,
)

# Probes and scrapes: measured, but no span (they would drown the traces).
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class HttpTelemetry:
    """ASGI middleware: a server span and a latency observation per HTTP request."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        started = time.perf_counter()
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        if path in UNTRACED_PATHS:
            try:
                await self.app(scope, receive, send_with_status)
            finally:
                self._observe(scope, method, status, started)
            return
        with tracer().start_as_current_span(
            f"{method} {path}",
            context=context_from(headers),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
        ) as span:
            try:
                await self.app(scope, receive, send_with_status)
            finally:
                route = self._observe(scope, method, status, started)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))

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
    """Add the telemetry middleware (outermost) and `GET /metrics` to an app."""
    app.include_router(metrics_router(refreshers))
    app.add_middleware(HttpTelemetry, service=service)


async def inject_trace_headers(request: httpx.Request) -> None:
    """httpx request hook: send the current trace context and request id on."""
    for key, value in propagation_headers().items():
        request.headers.setdefault(key, value)


class ConsumeTelemetry(BaseMiddleware):
    """Broker middleware: a consumer span and message counters per delivery."""

    delivery_limit = 0

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        raw = msg.raw_message
        event_type = str(getattr(raw, "routing_key", None) or "unknown")
        headers: dict[str, Any] = dict(msg.headers or {})
        request_id = request_id_from(headers)
        token = request_id_var.set(request_id) if request_id else None
        started = time.perf_counter()
        try:
            with tracer().start_as_current_span(
                f"consume {event_type}",
                context=context_from(headers),
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "rabbitmq",
                    "messaging.operation.type": "process",
                    "messaging.message.id": str(msg.message_id or ""),
                    "cloudevents.event_type": event_type,
                },
            ) as span:
                try:
                    result = await call_next(msg)
                except Exception as exc:
                    MESSAGES_FAILED.labels(event_type).inc()
                    if previous_deliveries(headers) >= self.delivery_limit:
                        MESSAGES_DEAD_LETTERED.labels(event_type).inc()
                        span.set_attribute("messaging.dead_lettered", True)
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    raise
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
