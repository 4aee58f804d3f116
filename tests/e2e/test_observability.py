"""One trace, metrics and logs of a real simulation, with every process of the stack running.

The processes export their spans over OTLP/HTTP, configured only by the standard
environment, to the receiver of tests/stack_fixtures.py; a client's `traceparent` and `x-request-id`
start the trace. The spans must form ONE trace from the gateway to the webhook delivery;
every process's /metrics must show the simulation; the logs must carry both ids.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.otlp_receiver import ReceivedSpan, SpanInbox
from tests.e2e.outsiders import delete_webhook_endpoint, webhook_receiver
from tests.reforms import CTC_REFORM
from tests.stack import RunningStack
from tests.stack_fixtures import PORT_BASE

pytestmark = pytest.mark.slow

PORTS = {
    "gateway": PORT_BASE,
    "simulation": PORT_BASE + 3,
    "aggregation": PORT_BASE + 4,
    "webhooks": PORT_BASE + 5,
    "worker": PORT_BASE + 13,
    "worker-2": PORT_BASE + 14,
    "households": PORT_BASE + 12,
}
# The stack's simulation workers: either may take any of the simulation's messages.
WORKERS = ("worker", "worker-2")
# The processes of the simulation service; each relays the service's outbox.
SIMULATION_PROCESSES = ("simulation", *WORKERS, "households")
# Every hop a simulation makes, as (service.name, span name): FastAPI's server spans
# (`METHOD route`), the outbox relays' `publish <event type>`, FastStream's consumer
# spans (`<exchange>.<routing key> process`) and the webhook delivery.
HOPS = (
    ("fiscus-gateway", "POST /api/v1/{path:path}"),
    ("fiscus-simulation", "POST /api/v1/simulations"),
    ("fiscus-simulation", "publish simulation.requested"),
    ("fiscus-simulation-worker", "fiscus.events.simulation.requested process"),
    ("fiscus-simulation-worker", "publish simulation.partition.requested"),
    ("fiscus-simulation-worker", "fiscus.events.simulation.partition.requested process"),
    ("fiscus-simulation-worker", "publish simulation.completed"),
    ("fiscus-aggregation", "fiscus.events.simulation.completed process"),
    ("fiscus-aggregation", "publish report.completed"),
    ("fiscus-webhooks", "fiscus.events.report.completed process"),
    ("fiscus-webhooks", "deliver webhook"),
)


def service_of(process: str) -> str:
    """The service a process belongs to: `fiscus-simulation-worker` → `fiscus-simulation`."""
    return "-".join(process.split("-")[:2])


def scrape(process: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = httpx.get(f"http://127.0.0.1:{PORTS[process]}/metrics", timeout=10)
    answer.raise_for_status()
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(
    scraped: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="module")
def simulation(stack: RunningStack) -> Iterator[dict[str, Any]]:
    """A real simulation started with a client's trace context and request id."""
    trace_id = secrets.token_hex(16)
    client_span = secrets.token_hex(8)
    request_id = f"observability-{secrets.token_hex(4)}"
    before = {process: scrape(process) for process in PORTS}
    with (
        webhook_receiver() as inbox,
        httpx.Client(
            base_url=f"{stack.gateway_url}/api/v1",
            headers={"Authorization": f"Bearer {stack.admin_key}"},
            timeout=120,
        ) as api,
    ):
        endpoint = api.post(
            "/webhooks", json={"url": inbox.url, "event_types": ["report.completed"]}
        )
        assert endpoint.status_code == 201, endpoint.text
        # A population of its own: another module's equal request would be answered with
        # that module's simulation (content-addressed), not a new one.
        dataset = api.post(
            "/datasets/synthetic",
            json={"name": "traced", "households": 200, "seed": 17, "year": 2025},
        ).json()
        policy = api.post("/policies", json={"name": "CTC $3,000", "data": CTC_REFORM}).json()
        created = api.post(
            "/simulations",
            json={"dataset_id": dataset["id"], "policy_id": policy["id"], "year": 2025},
            headers={
                "traceparent": f"00-{trace_id}-{client_span}-01",
                "x-request-id": request_id,
            },
        )
        assert created.status_code == 202, created.text
        simulation_id = created.json()["id"]
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            status = api.get(f"/simulations/{simulation_id}").json()["status"]
            if status in ("completed", "failed", "cancelled"):
                break
            time.sleep(1)
        assert status == "completed"
        delivered = inbox.wait_for(1, timeout=120)
    yield {
        "trace_id": trace_id,
        "client_span": client_span,
        "request_id": request_id,
        "simulation_id": simulation_id,
        "delivered": delivered,
        "before": before,
        "stack": stack,
    }
    delete_webhook_endpoint(stack.gateway_url, stack.admin_key, endpoint.json()["id"])


def test_one_trace_holds_every_hop_of_a_simulation(
    simulation: dict[str, Any], spans: SpanInbox
) -> None:
    trace = spans.wait_for("deliver webhook", simulation["trace_id"], timeout=60)
    present = {(span.service, span.name) for span in trace}
    # Every process of a service relays that service's outbox, so a publish may come from
    # any of them (the simulation API, a worker or the households worker).
    relayed = {(service_of(span.service), span.name) for span in trace}
    missing = [
        (service, name)
        for service, name in HOPS
        if (service, name) not in present
        and not (name.startswith("publish ") and (service_of(service), name) in relayed)
    ]
    assert not missing, f"missing hops {missing}; the trace has {sorted(present)}"
    # One tree: the client's span is the root's parent; every other parent is in the trace.
    ids = {span.span_id for span in trace} | {simulation["client_span"]}
    orphans = [span for span in trace if span.parent_id not in ids]
    assert not orphans, orphans
    by_id = {span.span_id: span for span in trace}
    delivery = next(span for span in trace if span.name == "deliver webhook")
    assert delivery.attributes["fiscus.webhook.outcome"] == "succeeded"
    assert path_to_root(delivery, by_id)[-1].name == "POST /api/v1/{path:path}"
    # The delivered body carries the trace context (CloudEvents distributed tracing).
    _headers, body = simulation["delivered"][0]
    assert json.loads(body)["traceparent"].split("-")[1] == simulation["trace_id"]


def path_to_root(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> list[ReceivedSpan]:
    path = [span]
    while path[-1].parent_id in by_id:
        path.append(by_id[path[-1].parent_id])
    return path


def test_every_process_metrics_moved_with_the_simulation(simulation: dict[str, Any]) -> None:
    before = simulation["before"]
    after = {process: scrape(process) for process in PORTS}

    def moved(process: str, name: str, **labels: str) -> float:
        return value(after[process], name, **labels) - value(before[process], name, **labels)

    def workers_moved(name: str, **labels: str) -> float:
        return sum(moved(worker, name, **labels) for worker in WORKERS)

    def published(event_type: str) -> float:
        """Publishes of the simulation service's outbox, whichever of its processes relayed."""
        name = "fiscus_messages_published_total"
        return sum(moved(p, name, event_type=event_type) for p in SIMULATION_PROCESSES)

    route = {"service": "gateway", "method": "POST", "route": "/api/v1/{path:path}"}
    assert (
        moved("gateway", "fiscus_http_request_duration_seconds_count", **route, status="202") >= 1
    )
    assert published("simulation.requested") >= 1
    assert workers_moved("fiscus_messages_consumed_total", event_type="simulation.requested") >= 1
    partition = "simulation.partition.requested"
    assert workers_moved("fiscus_messages_consumed_total", event_type=partition) >= 1
    assert published("simulation.completed") >= 1
    assert workers_moved("fiscus_simulation_duration_seconds_count", size="lt_1k") == 1
    # A worker that computed a partition holds the reform's system beside current law.
    assert (
        max(value(after[w], "fiscus_warm_systems_cached", process="worker") for w in WORKERS) >= 2
    )
    assert all(value(after[w], "fiscus_ready", service="simulation") == 1 for w in WORKERS)
    assert (
        moved("aggregation", "fiscus_messages_consumed_total", event_type="simulation.completed")
        >= 1
    )
    assert (
        moved("aggregation", "fiscus_messages_published_total", event_type="report.completed") >= 1
    )
    assert moved("webhooks", "fiscus_messages_consumed_total", event_type="report.completed") >= 1
    assert moved("webhooks", "fiscus_webhook_deliveries_total", outcome="succeeded") >= 1
    assert value(after["simulation"], "fiscus_simulations", status="completed") >= 1
    assert value(after["simulation"], "fiscus_partitions", state="done") >= 1
    assert value(after["simulation"], "fiscus_partitions", state="running") == 0
    for process in ("simulation", "aggregation", "webhooks"):
        assert (("fiscus_outbox_backlog", (("service", process),))) in after[process]


def test_log_lines_of_the_simulation_carry_its_trace_and_request_ids(
    simulation: dict[str, Any],
) -> None:
    stack: RunningStack = simulation["stack"]
    for processes in (WORKERS, ("aggregation",)):
        lines = [
            json.loads(line)
            for process in processes
            for line in stack.log(process).splitlines()
            if line.startswith("{")
        ]
        assert all("trace_id" in line and "request_id" in line for line in lines)
        ours = [line for line in lines if line["trace_id"] == simulation["trace_id"]]
        assert ours, f"no {' or '.join(processes)} log line in the simulation's trace"
        assert {line["request_id"] for line in ours} == {simulation["request_id"]}
