"""Scenario 3: PostgreSQL crashes and comes back while clients keep submitting and reading.

Clients send simulation requests (each with an Idempotency-Key) and list reads at a
steady rate; the database is stopped in immediate mode (a crash for its clients),
kept down a while, and started again. During the outage every answer must be quick
and either a success or a 503 problem+json; afterwards the services must work again
without being restarted, every request refused with 503 is retried with its key,
and every accepted simulation must complete exactly once.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import httpx
import pytest

from tests.chaos.traffic import (
    PROBLEM,
    api_client,
    completed_once,
    create_datasets,
    create_policy,
    duplicates,
    new_answers,
    one_request_per_dataset,
    stored_per_dataset,
    submit,
)
from tests.e2e.outsiders import SubscriberQueue
from tests.infrastructure import PrivatePostgres
from tests.reliability import percentile, record, scaled
from tests.stack import RunningStack

pytestmark = pytest.mark.slow

CLIENT_TIMEOUT = 30.0


@dataclass
class Read:
    status: int
    seconds: float
    content_type: str
    during_outage: bool
    error: str = ""


@dataclass
class Timeline:
    """When the database was down, by the test's monotonic clock."""

    stopped: float = float("inf")
    started: float = float("inf")
    reads: list[Read] = field(default_factory=list)

    def down(self, at: float) -> bool:
        return self.stopped <= at <= self.started


def test_services_ride_out_a_database_crash(
    chaos_stack: RunningStack, private_postgres: PrivatePostgres
) -> None:
    subscriber = SubscriberQueue(
        chaos_stack.settings.amqp_url, "chaos-observer.postgres-restart", ("simulation.completed",)
    )
    subscriber.declare()
    try:
        ids, measured = asyncio.run(crash_under_load(chaos_stack, private_postgres))
        events = [json.loads(body) for body in subscriber.read_all(timeout=10)]
    finally:
        subscriber.delete()
    completed = [event["subject"] for event in events if event["subject"] in ids]
    assert duplicates(completed) == {}
    assert sorted(completed) == sorted(ids)
    record(
        "postgres_restart",
        **measured,
        completed_events=len(completed),
        duplicated_events=len(completed) - len(set(completed)),
    )


async def crash_under_load(
    stack: RunningStack, database: PrivatePostgres
) -> tuple[list[str], dict[str, object]]:
    count = scaled(ci=4, full=90)
    outage = scaled(ci=8, full=20)
    before, after = 3.0, scaled(ci=5, full=10)
    interval = (before + outage + after) / count
    timeline = Timeline()
    async with api_client(stack, timeout=CLIENT_TIMEOUT) as api:
        policy_id = await create_policy(api, "chaos postgres restart")
        dataset_ids = await create_datasets(api, "chaos postgres restart", count, 40, seed=4300)
        answers = new_answers(one_request_per_dataset(dataset_ids, policy_id))
        started = time.monotonic()

        async def crash() -> None:
            await asyncio.sleep(before)
            timeline.stopped = time.monotonic()
            await asyncio.to_thread(database.stop, "immediate")
            await asyncio.sleep(outage)
            await asyncio.to_thread(database.start)
            timeline.started = time.monotonic()

        async def submissions() -> None:
            tasks = []
            for answer in answers:
                tasks.append(asyncio.create_task(submit(api, answer)))
                await asyncio.sleep(interval)
            await asyncio.gather(*tasks)

        async def reads() -> None:
            end = started + before + outage + after
            tasks = []
            while time.monotonic() < end:
                tasks.append(asyncio.create_task(read(api, timeline)))
                await asyncio.sleep(0.2)
            await asyncio.gather(*tasks)

        crashing = asyncio.create_task(crash())
        await asyncio.gather(submissions(), reads())
        await crashing
        first_round = list(answers)
        outage_answers = [a for a in first_round if a.status not in (200, 202)]
        bad = [
            (a.status, a.content_type, a.error)
            for a in outage_answers
            if a.status != 503 or not a.content_type.startswith(PROBLEM)
        ]
        bad_reads = [
            (r.status, r.content_type, r.error)
            for r in timeline.reads
            if r.status != 200 and (r.status != 503 or not r.content_type.startswith(PROBLEM))
        ]
        assert bad == [] and bad_reads == [], (bad, bad_reads)
        refused_at_first = len(outage_answers)

        # The clients retry what was refused, with the same Idempotency-Key.
        retried = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            waiting = [a for a in answers if a.status not in (200, 202)]
            if not waiting:
                break
            retried += len(waiting)
            await asyncio.gather(*(submit(api, a) for a in waiting))
            await asyncio.sleep(1.0)
        ids = await completed_once(api, answers, timeout=scaled(ci=600, full=1800))
        drained = time.monotonic() - started
        stored = await stored_per_dataset(stack.settings, dataset_ids)
    assert stored == {"simulation_rows": count, "simulation_keys": count, "reports": count}
    during = [r for r in timeline.reads if r.during_outage]
    outage_latencies = [r.seconds * 1000 for r in during] + [
        a.seconds * 1000 for a in first_round if timeline.down(a.sent_at)
    ]
    recovered = [r.seconds for r in timeline.reads if not r.during_outage and r.status == 200]
    return ids, {
        "requests": count,
        "database_down_seconds": round(timeline.started - timeline.stopped, 1),
        "refused_with_503": refused_at_first,
        "retried_with_same_key": retried,
        "accepted": count,
        "completed": count,
        "lost": 0,
        **stored,
        "reads": len(timeline.reads),
        "reads_during_outage": len(during),
        "reads_503_during_outage": sum(r.status == 503 for r in during),
        "read_p50_ms": round(percentile([r.seconds * 1000 for r in timeline.reads], 50), 1),
        "read_p99_ms": round(percentile([r.seconds * 1000 for r in timeline.reads], 99), 1),
        "slowest_answer_during_outage_ms": round(max(outage_latencies, default=0.0), 1),
        "answered_reads_after_restart": len(recovered),
        "drain_seconds": round(drained, 1),
    }


async def read(api: httpx.AsyncClient, timeline: Timeline) -> None:
    sent = time.monotonic()
    try:
        answer = await api.get("/simulations", params={"limit": 5})
    except httpx.HTTPError as exc:
        timeline.reads.append(
            Read(0, time.monotonic() - sent, "", timeline.down(sent), f"{type(exc).__name__}")
        )
        return
    timeline.reads.append(
        Read(
            answer.status_code,
            time.monotonic() - sent,
            answer.headers.get("content-type", ""),
            timeline.down(sent),
        )
    )
