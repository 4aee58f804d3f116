"""Scenario 2: RabbitMQ stopped and started during a burst of simulation submissions.

The burst goes out in three waves: with the broker up, with it stopped, and while it
starts again. Every accepted request must end completed, and nothing may happen
twice: one simulation row per request, one `simulation.completed` (counted by a
subscriber of our own on `fiscus.events`), one report, one webhook delivery.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.chaos.traffic import (
    api_client,
    burst,
    completed_once,
    create_datasets,
    create_policy,
    duplicates,
    new_answers,
    one_request_per_dataset,
    query,
    stored_per_dataset,
)
from tests.e2e.outsiders import SubscriberQueue, WebhookInbox, webhook_receiver
from tests.infrastructure import PrivateRabbitMQ
from tests.reliability import percentile, record, scaled
from tests.stack import RunningStack

pytestmark = pytest.mark.slow


@pytest.fixture
def receiver() -> Iterator[WebhookInbox]:
    with webhook_receiver() as inbox:
        yield inbox


def test_every_submission_completes_once_across_a_broker_restart(
    chaos_stack: RunningStack, private_rabbitmq: PrivateRabbitMQ, receiver: WebhookInbox
) -> None:
    count = scaled(ci=3, full=100)
    subscriber = SubscriberQueue(
        chaos_stack.settings.amqp_url, "chaos-observer.broker-restart", ("simulation.completed",)
    )
    subscriber.declare()
    try:
        ids, measured = asyncio.run(run_burst(chaos_stack, private_rabbitmq, receiver, count))
        events = [json.loads(body) for body in subscriber.read_all(timeout=10)]
    finally:
        subscriber.delete()

    # A subscriber dedupes by CloudEvent id: an event the relay published again because
    # the broker went away before confirming it is the same event, not a second one.
    completed_events = [
        event["subject"] for event in unique_by_id(events) if event["subject"] in ids
    ]
    assert duplicates(completed_events) == {}
    assert sorted(completed_events) == sorted(ids)
    delivered = [
        payload["subject"]
        for payload in receiver.verified
        if isinstance(payload, dict) and payload.get("subject") in ids
    ]
    assert all(isinstance(payload, dict) for payload in receiver.verified), receiver.verified
    assert duplicates(delivered) == {}
    assert sorted(delivered) == sorted(ids)
    record(
        "broker_restart",
        **measured,
        completed_events=len(completed_events),
        completed_events_published_again=sum(event["subject"] in ids for event in events)
        - len(completed_events),
        duplicated_events=len(completed_events) - len(set(completed_events)),
        webhook_deliveries=len(delivered),
        duplicated_webhook_deliveries=len(delivered) - len(set(delivered)),
    )


def unique_by_id(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list({event["id"]: event for event in events}.values())


async def run_burst(
    stack: RunningStack, broker: PrivateRabbitMQ, receiver: WebhookInbox, count: int
) -> tuple[list[str], dict[str, object]]:
    async with api_client(stack) as api:
        policy_id = await create_policy(api, "chaos broker restart")
        dataset_ids = await create_datasets(api, "chaos broker restart", count, 40, seed=4100)
        endpoint = await api.post(
            "/webhooks", json={"url": receiver.url, "event_types": ["simulation.completed"]}
        )
        assert endpoint.status_code == 201, endpoint.text
        receiver.secret = endpoint.json()["secret"]

        answers = new_answers(one_request_per_dataset(dataset_ids, policy_id))
        waves = [answers[: count // 3], answers[count // 3 : 2 * count // 3]]
        waves.append(answers[2 * count // 3 :])
        started = time.monotonic()
        first = asyncio.create_task(burst(api, waves[0]))
        # Stop the broker while the first wave is still arriving.
        await asyncio.to_thread(broker.stop)
        stopped_at = time.monotonic()
        await first
        await burst(api, waves[1])
        await asyncio.gather(asyncio.to_thread(broker.start), burst(api, waves[2]))
        downtime = time.monotonic() - stopped_at
        submitted = time.monotonic() - started

        ids = await completed_once(api, answers, timeout=scaled(ci=600, full=1500))
        drained = time.monotonic() - started
        stored = await stored_per_dataset(stack.settings, dataset_ids)
        deliveries = await query(
            stack.settings,
            "SELECT count(*), count(DISTINCT event_id) FROM webhooks.deliveries"
            " WHERE endpoint_id = :endpoint_id",
            endpoint_id=endpoint.json()["id"],
        )
    assert stored == {"simulation_rows": count, "simulation_keys": count, "reports": count}
    assert tuple(deliveries[0]) == (count, count)
    latencies = [a.seconds * 1000 for a in answers]
    return ids, {
        "requests": count,
        "accepted": count,
        "completed": count,
        "lost": 0,
        **stored,
        "broker_down_seconds": round(downtime, 1),
        "submit_seconds": round(submitted, 1),
        "drain_seconds": round(drained, 1),
        "submit_p50_ms": round(percentile(latencies, 50), 1),
        "submit_p99_ms": round(percentile(latencies, 99), 1),
        "during_outage": len(waves[1]),
    }
