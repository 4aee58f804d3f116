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

Spans come from OpenTelemetry's instrumentations where one exists: FastAPI (a server
span per request, `shared.instrumentation.instrument_app`), httpx (a client span per
call of the clients that call other services), SQLAlchemy and asyncpg (a span per
statement, installed here), and FastStream's telemetry middleware (a consumer span per
delivery, `shared.broker.make_broker`). Fiscus's own spans are for its own work: the
outbox relay's publish (in the trace the event was recorded in), a webhook delivery.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from shared.logs import request_id_var

TRACER_NAME = "fiscus"
REQUEST_ID_HEADER = "x-request-id"
TRACE_HEADERS = ("traceparent", "tracestate")
OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def otlp_configured(environ: Mapping[str, str] = os.environ) -> bool:
    return any(environ.get(name) for name in OTLP_ENDPOINT_VARIABLES)


class _Forwarding(SpanProcessor):
    """Hands every span of the process also to the processors `tracing_to` adds."""

    def __init__(self) -> None:
        self.processors: list[SpanProcessor] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for processor in list(self.processors):
            processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        for processor in list(self.processors):
            processor.on_end(span)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


_forwarding = _Forwarding()


def configure_tracing(service: str) -> None:
    """Install this process's tracer provider and the database instrumentations, unless
    a provider is installed already."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    # OTEL_SERVICE_NAME, when set, names the process instead (the standard's precedence).
    named = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": f"fiscus-{service}"}
    provider = TracerProvider(resource=Resource.create(named))
    provider.add_span_processor(_forwarding)
    if otlp_configured():
        # Imported here: only a process that exports needs the exporter's dependencies.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _instrument_databases()


class _InTraceOnly(trace.Tracer):
    """A tracer that makes a span only inside a trace: a statement of a request or a
    message is traced, one of an outbox relay's or a delivery loop's polls (many a second,
    each a trace of its own) is not."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _inside(self, context: Context | None) -> bool:
        return trace.get_current_span(context).get_span_context().is_valid

    def start_span(
        self, name: str, context: Context | None = None, *args: Any, **kwargs: Any
    ) -> trace.Span:
        if not self._inside(context):
            return trace.INVALID_SPAN
        return trace.get_tracer(self._name).start_span(name, context, *args, **kwargs)

    @contextlib.contextmanager
    def start_as_current_span(  # type: ignore[override]
        self, name: str, context: Context | None = None, *args: Any, **kwargs: Any
    ) -> Iterator[trace.Span]:
        if not self._inside(context):
            yield trace.INVALID_SPAN
            return
        with trace.get_tracer(self._name).start_as_current_span(
            name, context, *args, **kwargs
        ) as span:
            yield span


class _InTraceOnlyProvider(trace.TracerProvider):
    """Gives the database instrumentations `_InTraceOnly` tracers."""

    def get_tracer(self, instrumenting_module_name: str, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _InTraceOnly(instrumenting_module_name)


def _instrument_databases() -> None:
    """A span per statement inside a trace: SQLAlchemy's (every engine made after this)
    and asyncpg's."""
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    in_trace = _InTraceOnlyProvider()
    sqlalchemy = SQLAlchemyInstrumentor()
    if not sqlalchemy.is_instrumented_by_opentelemetry:
        # It declares SQLAlchemy below 2.1; 2.1's engine events, which it uses, are 2.0's.
        sqlalchemy.instrument(skip_dep_check=True, tracer_provider=in_trace)
    asyncpg = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    if not asyncpg.is_instrumented_by_opentelemetry:
        asyncpg.instrument(tracer_provider=in_trace)


@contextlib.contextmanager
def tracing_to(processor: SpanProcessor) -> Iterator[None]:
    """Hand every span this process makes to `processor` too, until the block ends
    (tests read spans with an in-memory exporter this way)."""
    configure_tracing("tests")
    _forwarding.processors.append(processor)
    try:
        yield
    finally:
        _forwarding.processors.remove(processor)


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


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
