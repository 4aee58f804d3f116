"""Scenario 4: poison messages in services' queues, and a simulation that cannot run.

Published straight to the services' own queues (the default exchange, routed by
queue name), as a broken publisher would:
- bytes that are not JSON, to the aggregation service's queue;
- a well-formed CloudEvent whose payload fails validation, to the aggregation
  service's queue and to the simulation workers' request queue: every delivery of
  it raises.
Each must end in `<queue>.dlq` after the counted attempt limit (FISCUS_DELIVERY_LIMIT:
the first delivery plus that many redeliveries), carrying RabbitMQ's count in its
`x-death` header, while the services keep consuming: a simulation submitted after
them completes and gets its report. A simulation on a dataset whose files are
broken fails, and says why through GET /api/v1/simulations/{id}.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fiscus_client import Fiscus

from shared import storage
from shared.population import file_name
from tests.chaos.observers import deliveries_logged, publish_raw, take_dead_letters, wait_all
from tests.reforms import CTC_REFORM
from tests.reliability import record
from tests.stack import RunningStack

pytestmark = pytest.mark.slow

AGGREGATION_QUEUE = "aggregation.simulation-completed"
REQUESTS_QUEUE = "simulation.requests"
WORKERS = ("worker", "worker-2")


def invalid_event(event_type: str) -> tuple[str, bytes]:
    """A CloudEvent envelope that parses, with a payload no handler can accept."""
    event_id = str(uuid.uuid4())
    document = {
        "specversion": "1.0",
        "id": event_id,
        "source": "/chaos/poison",
        "type": event_type,
        "subject": "no-such-simulation",
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": {"simulation_id": ["not", "an", "id"], "year": "a long time ago"},
    }
    return event_id, json.dumps(document).encode()


def death_of(message: Any) -> dict[str, Any]:
    """The first `x-death` entry of a dead-lettered message, as plain values."""
    deaths = message.headers.get("x-death") or []
    assert deaths, message.headers
    return {
        key: value.decode() if isinstance(value, bytes) else value
        for key, value in dict(deaths[0]).items()
    }


def test_poison_is_dead_lettered_and_the_services_keep_consuming(
    chaos_stack: RunningStack,
) -> None:
    fiscus = Fiscus(chaos_stack.gateway_url, chaos_stack.admin_key)
    limit = chaos_stack.settings.delivery_limit
    pids = {name: chaos_stack.pid(name) for name in ("aggregation", "worker", "worker-2")}
    started = time.monotonic()

    garbage = b"\x00{this is not json"
    _, invalid_completed = invalid_event("simulation.completed")
    _, invalid_requested = invalid_event("simulation.requested")
    published = {
        publish_raw(chaos_stack, garbage, AGGREGATION_QUEUE): ("aggregation",),
        publish_raw(chaos_stack, invalid_completed, AGGREGATION_QUEUE): ("aggregation",),
        publish_raw(chaos_stack, invalid_requested, REQUESTS_QUEUE): WORKERS,
    }

    # A dataset whose household file is broken after it was registered.
    broken = fiscus.create_synthetic_dataset("chaos broken", 40, seed=404, year=2025)
    assert broken.storage_uri is not None, broken
    storage.write_bytes(
        storage.join(broken.storage_uri, file_name("household")), b"PAR1 not parquet"
    )
    policy = fiscus.create_policy("chaos poison CTC", CTC_REFORM)
    doomed = fiscus.simulate(broken.id, policy.id, 2025).id
    # And an ordinary simulation, submitted after the poison.
    healthy_dataset = fiscus.create_synthetic_dataset("chaos healthy", 40, seed=405, year=2025)
    healthy = fiscus.simulate(healthy_dataset.id, policy.id, 2025).id

    finished = wait_all(fiscus, [doomed, healthy], timeout=600)
    report = fiscus.wait_for_report(healthy, timeout=300)
    aggregation_dead = take_dead_letters(chaos_stack, AGGREGATION_QUEUE, 2, timeout=120)
    requests_dead = take_dead_letters(chaos_stack, REQUESTS_QUEUE, 1, timeout=120)
    elapsed = time.monotonic() - started

    deaths = [death_of(m) for m in aggregation_dead + requests_dead]
    # Each delivery is logged by the consumer that received it (faststream's `Received`).
    attempts = {
        message_id: deliveries_logged(chaos_stack, processes, message_id)
        for message_id, processes in published.items()
    }
    failed = finished[doomed]
    record(
        "poison_message",
        published={AGGREGATION_QUEUE: 2, REQUESTS_QUEUE: 1},
        dead_lettered={
            AGGREGATION_QUEUE: len(aggregation_dead),
            REQUESTS_QUEUE: len(requests_dead),
        },
        delivery_limit=limit,
        x_death=[
            {"queue": d.get("queue"), "reason": d.get("reason"), "count": d.get("count")}
            for d in deaths
        ],
        deliveries_before_dead_letter=sorted(attempts.values()),
        healthy_simulation=finished[healthy].status,
        healthy_report=bool(report.report.model_dump(exclude_none=True)),
        failed_simulation={
            "status": failed.status,
            "error": failed.error.model_dump() if failed.error is not None else None,
        },
        services_restarted=[n for n, pid in pids.items() if chaos_stack.pid(n) != pid],
        lost=0 if finished[healthy].status == "completed" else 1,
        seconds=round(elapsed, 1),
    )

    assert sorted(m.body for m in aggregation_dead) == sorted([garbage, invalid_completed])
    assert [m.body for m in requests_dead] == [invalid_requested]
    for message, death in zip(aggregation_dead + requests_dead, deaths, strict=True):
        # Dead-lettered once, by the queue's delivery limit (not rejected, not expired).
        assert death["reason"] == "delivery_limit", death
        assert death["count"] == 1, death
        assert death["queue"] in (AGGREGATION_QUEUE, REQUESTS_QUEUE)
        assert message.message_id in published
    # Counted: the first delivery and `limit` redeliveries, then the dead-letter queue.
    assert attempts == dict.fromkeys(published, limit + 1), attempts
    assert finished[healthy].status == "completed", finished[healthy]
    assert report.report.budget is not None, report
    assert report.report.budget.model_dump(exclude_none=True), report
    assert failed.status == "failed", failed
    assert failed.error is not None and failed.error.type and failed.error.reason, failed
    # Nothing died of the poison: the same processes are consuming.
    assert {name: chaos_stack.pid(name) for name in pids} == pids
