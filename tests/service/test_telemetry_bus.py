"""Traces, metrics and logs across the outbox, RabbitMQ and a consumer, on the real broker."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import sqlalchemy as sa
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from contracts.envelope import CloudEvent
from contracts.events.policy.v1 import PolicyCreated
from services.webhooks.db.tables import metadata
from shared.broker import EventConsumers, make_broker
from shared.db import Database, create_engine
from shared.logs import JsonFormatter, request_id_var
from shared.outbox import OutboxRelay
from shared.service import ServiceProcess, create_service_app
from shared.settings import Settings
from shared.tracing import tracer, tracing_to
from tests.service.bus import publish_bytes


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    with tracing_to(SimpleSpanProcessor(exporter)):
        yield exporter


@pytest.fixture
async def database(migrated: Settings) -> AsyncIterator[Database]:
    # The webhooks service's outbox, emptied: none of its processes runs in these tests.
    database = Database(create_engine(migrated.service_database_url("webhooks")), metadata)
    async with database.engine.begin() as connection:
        await connection.execute(database.outbox.delete())
    yield database
    await database.engine.dispose()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def policy_event(name: str) -> CloudEvent:
    payload = PolicyCreated(policy_id=name, name=name, sha256="0" * 64, data={})
    return CloudEvent.wrap(payload, source="/tests", subject=name)


async def test_trace_and_request_id_travel_from_outbox_row_to_consumer(
    database: Database, migrated: Settings, spans: InMemorySpanExporter
) -> None:
    seen: list[tuple[CloudEvent, str | None, str | None]] = []
    arrived = asyncio.Event()

    async def handler(event: CloudEvent) -> None:
        if event.subject == "traced":
            seen.append((event, request_id_var.get(), logging_trace_id()))
            arrived.set()

    consumers = EventConsumers(make_broker(migrated), migrated)
    consumers.subscribe("tests.telemetry", "policy.created", handler)
    await consumers.start()
    relay = OutboxRelay(database, migrated.amqp_url, migrated.events_exchange)
    published_before = sample("fiscus_messages_published_total", event_type="policy.created")
    consumed_before = sample("fiscus_messages_consumed_total", event_type="policy.created")
    try:
        token = request_id_var.set("req-telemetry-1")
        with tracer().start_as_current_span("request") as request_span:
            async with database.unit_of_work() as uow:
                await uow.publish(policy_event("traced"))
                await uow.commit()
        request_id_var.reset(token)
        async with database.engine.connect() as connection:
            row = (await connection.execute(database.outbox.select())).one()
        assert await relay.relay_once() == 1
        await asyncio.wait_for(arrived.wait(), timeout=15)
    finally:
        await relay.close()
        await consumers.stop()

    trace_id = request_span.get_span_context().trace_id
    # The outbox row carries the context and request id; so does the envelope.
    assert row.headers["traceparent"].split("-")[1] == f"{trace_id:032x}"
    assert row.headers["x-request-id"] == "req-telemetry-1"
    assert row.envelope["traceparent"] == row.headers["traceparent"]
    event, request_id, logged_trace = seen[0]
    assert event.traceparent == row.headers["traceparent"]
    assert request_id == "req-telemetry-1"
    assert logged_trace == f"{trace_id:032x}"

    finished = {span.name: span for span in spans.get_finished_spans()}
    publish_span = finished["publish policy.created"]
    # FastStream's consumer span: `<exchange>.<routing key> process`.
    consume_span = finished[f"{migrated.events_exchange}.policy.created process"]
    assert publish_span.kind is SpanKind.PRODUCER and consume_span.kind is SpanKind.CONSUMER
    assert {publish_span.context.trace_id, consume_span.context.trace_id} == {trace_id}
    assert publish_span.parent is not None and consume_span.parent is not None
    assert publish_span.parent.span_id == request_span.get_span_context().span_id
    assert consume_span.parent.span_id == publish_span.context.span_id

    assert sample("fiscus_messages_published_total", event_type="policy.created") == (
        published_before + 1
    )
    assert sample("fiscus_messages_consumed_total", event_type="policy.created") >= (
        consumed_before + 1
    )


def logging_trace_id() -> str | None:
    """The trace id a log line written now carries."""
    record = logging.makeLogRecord({"msg": "probe"})
    entry = json.loads(JsonFormatter("tests").format(record))
    assert "request_id" in entry and "trace_id" in entry
    trace_id: str | None = entry["trace_id"]
    return trace_id


async def test_failures_and_dead_lettering_are_counted(migrated: Settings) -> None:
    attempts: list[str] = []
    done = asyncio.Event()

    async def always_fails(event: CloudEvent) -> None:
        attempts.append(event.id)
        if len(attempts) == migrated.delivery_limit + 1:
            done.set()
        raise RuntimeError("poison")

    event_type = "policy.created"
    failed_before = sample("fiscus_messages_failed_total", event_type=event_type)
    dead_before = sample("fiscus_messages_dead_lettered_total", event_type=event_type)
    consumers = EventConsumers(make_broker(migrated), migrated)
    consumers.subscribe("tests.telemetry-poison", event_type, always_fails)
    await consumers.start()
    try:
        await publish_bytes(migrated, policy_event("poison").model_dump_json().encode(), event_type)
        await asyncio.wait_for(done.wait(), timeout=30)
        await asyncio.sleep(0.3)
    finally:
        await consumers.stop()
    failed = sample("fiscus_messages_failed_total", event_type=event_type) - failed_before
    dead = sample("fiscus_messages_dead_lettered_total", event_type=event_type) - dead_before
    assert failed == migrated.delivery_limit + 1
    assert dead == 1


async def test_service_app_serves_metrics_with_route_templates_and_outbox_backlog(
    database: Database, migrated: Settings, spans: InMemorySpanExporter
) -> None:
    process = ServiceProcess("webhooks", migrated, metadata)
    app = create_service_app(process, [], title="telemetry test")
    async with database.unit_of_work() as uow:
        await uow.publish(policy_event("backlog"))
        await uow.commit()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        # No lifespan: the relay does not run, so the row stays in the backlog.
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/nowhere", headers={"x-request-id": "r-404"})).status_code == 404
        answer = await client.get("/metrics")
    await process.database.engine.dispose()
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert 'fiscus_outbox_backlog{service="webhooks"} 1.0' in text
    assert 'route="/healthz"' in text and 'route="unmatched"' in text
    healthz = sample(
        "fiscus_http_request_duration_seconds_count",
        service="webhooks",
        method="GET",
        route="/healthz",
        status="200",
    )
    assert healthz >= 1
    age = sample("fiscus_outbox_oldest_age_seconds", service="webhooks")
    assert 0 <= age < 60
    # Probes and scrapes are not traced; other requests are (FastAPI's instrumentation),
    # named by their route, or by the method alone when no route matched.
    finished = spans.get_finished_spans()
    assert not any("healthz" in span.name or "metrics" in span.name for span in finished)
    unmatched = [span for span in finished if span.kind is SpanKind.SERVER]
    assert [span.name for span in unmatched] == ["GET"]
    assert unmatched[0].attributes is not None
    assert "/nowhere" in str(dict(unmatched[0].attributes))


def test_log_lines_carry_request_and_trace_ids(spans: InMemorySpanExporter) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("tests"))
    logger = logging.getLogger("tests.telemetry.logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("outside")
        token = request_id_var.set("req-7")
        with tracer().start_as_current_span("work") as span:
            logger.warning("inside", extra={"simulation_id": "s-1"})
        request_id_var.reset(token)
    finally:
        logger.removeHandler(handler)
    outside, inside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert outside["request_id"] is None and outside["trace_id"] is None
    assert inside["request_id"] == "req-7"
    assert inside["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert inside["span_id"] == f"{span.get_span_context().span_id:016x}"
    assert inside["simulation_id"] == "s-1"


async def test_statements_in_a_trace_are_traced_by_sqlalchemy_and_asyncpg_others_not(
    migrated: Settings, spans: InMemorySpanExporter
) -> None:
    engine = create_engine(migrated.service_database_url("webhooks"))
    try:
        with tracer().start_as_current_span("request") as request_span:
            async with engine.connect() as connection:
                await connection.execute(sa.text("select 1"))
        # Outside any trace (an outbox relay's poll, say): no span.
        async with engine.connect() as connection:
            await connection.execute(sa.text("select 2"))
    finally:
        await engine.dispose()
    roots = [span.name for span in spans.get_finished_spans() if span.parent is None]
    assert roots == ["request"]
    trace_id = request_span.get_span_context().trace_id
    scopes = {
        span.instrumentation_scope.name
        for span in spans.get_finished_spans()
        if span.kind is SpanKind.CLIENT
        and span.context.trace_id == trace_id
        and span.instrumentation_scope is not None
    }
    assert "opentelemetry.instrumentation.sqlalchemy" in scopes
    assert "opentelemetry.instrumentation.asyncpg" in scopes
