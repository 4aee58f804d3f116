"""OpenTelemetry tracing: one trace from the gateway request to the last webhook.

A process installs one SDK tracer provider at start (`configure_tracing`). Spans are
exported over OTLP only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the exporter reads the other standard
`OTEL_EXPORTER_OTLP_*` variables itself. Without them spans are still made, so that
trace ids reach the logs and travel on, but nothing leaves the process.

The context crosses process boundaries as W3C `traceparent`/`tracestate`: in HTTP
headers, in the outbox row's headers (written by `UnitOfWork.publish`), in the
RabbitMQ message's headers (written by the outbox relay), and in the CloudEvent's
own `traceparent` attribute (the CloudEvents distributed-tracing extension) so that
work started later from a stored event, such as a webhook delivery, joins the trace.
The request id travels beside it as `x-request-id`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from shared.logs import request_id_var

TRACER_NAME = "fiscus"
REQUEST_ID_HEADER = "x-request-id"
TRACE_HEADERS = ("traceparent", "tracestate")
OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def otlp_configured(environ: Mapping[str, str] = os.environ) -> bool:
    return any(environ.get(name) for name in OTLP_ENDPOINT_VARIABLES)


# A provider used instead of the global one (tests trace in-process services with it).
_override: list[TracerProvider] = []


def configure_tracing(service: str) -> None:
    """Install this process's tracer provider, unless one is installed already."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    # OTEL_SERVICE_NAME, when set, names the process instead (the standard's precedence).
    named = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": f"fiscus-{service}"}
    provider = TracerProvider(resource=Resource.create(named))
    if otlp_configured():
        # Imported here: only a process that exports needs the exporter's dependencies.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


@contextlib.contextmanager
def tracing_to(provider: TracerProvider) -> Iterator[None]:
    """Trace with `provider` rather than the global provider until the block ends."""
    _override.append(provider)
    try:
        yield
    finally:
        _override.remove(provider)


def tracer() -> trace.Tracer:
    provider = _override[-1] if _override else trace.get_tracer_provider()
    return provider.get_tracer(TRACER_NAME)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def context_from(headers: Mapping[str, Any] | None) -> otel_context.Context:
    """The trace context carried by message or HTTP headers (empty when none)."""
    carrier = {
        key.lower(): _text(value)
        for key, value in (headers or {}).items()
        if key.lower() in TRACE_HEADERS
    }
    return propagate.extract(carrier)


def propagation_headers() -> dict[str, str]:
    """The current trace context and request id, as headers to send on."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    request_id = request_id_var.get()
    if request_id:
        carrier[REQUEST_ID_HEADER] = request_id
    return carrier


def request_id_from(headers: Mapping[str, Any] | None) -> str | None:
    value = (headers or {}).get(REQUEST_ID_HEADER)
    return _text(value)[:128] if value else None


def current_trace_id() -> str | None:
    """The current span's trace id in hex, or None outside any span."""
    span_context = trace.get_current_span().get_span_context()
    return f"{span_context.trace_id:032x}" if span_context.is_valid else None


def current_span_id() -> str | None:
    span_context = trace.get_current_span().get_span_context()
    return f"{span_context.span_id:016x}" if span_context.is_valid else None


def envelope_context(envelope: str | bytes | Mapping[str, Any]) -> otel_context.Context:
    """The trace context a stored CloudEvent carries (its `traceparent` attribute)."""
    if not isinstance(envelope, Mapping):
        try:
            envelope = json.loads(envelope)
        except ValueError:
            return otel_context.Context()
    return context_from(envelope if isinstance(envelope, Mapping) else None)


@contextlib.contextmanager
def span_in_event_trace(
    name: str, envelope: str | bytes | Mapping[str, Any], attributes: Mapping[str, str]
) -> Iterator[trace.Span]:
    """A span for work done later on a stored event, in the trace that emitted the event."""
    with tracer().start_as_current_span(
        name, context=envelope_context(envelope), attributes=dict(attributes)
    ) as span:
        yield span
