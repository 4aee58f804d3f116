"""What the chaos scenarios watch from outside the stack.

`EventCounter` is an independent subscriber: a durable queue of its own bound to
`fiscus.events` (tests/e2e/outsiders.py SubscriberQueue, plain aio-pika), counting
every event by type and subject (the simulation id). The other helpers read the
simulation service's partition rows, the result files, and dead-letter queues.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aio_pika
import pandas as pd
import sqlalchemy as sa
from fiscus_client import Fiscus, FiscusError, Simulation
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from contracts.results.v1 import HOUSEHOLDS_FILE, PEOPLE_FILE
from shared import storage
from tests.chaos.traffic import POLL_PACE_SECONDS
from tests.e2e.outsiders import SubscriberQueue
from tests.stack import RunningStack

UNPARSEABLE = "<unparseable>"


class EventCounter:
    """Every event published on `fiscus.events` after `start()`, by (type, subject)."""

    def __init__(self, stack: RunningStack, name: str, routing_keys: tuple[str, ...] = ("#",)):
        self._queue = SubscriberQueue(stack.settings.amqp_url, name, routing_keys)
        self.counts: Counter[tuple[str, str]] = Counter()

    def start(self) -> None:
        self._queue.declare()

    def stop(self) -> None:
        self._queue.delete()

    def collect(self, timeout: float = 10) -> Counter[tuple[str, str]]:
        """Read what arrived since the last call (waiting up to `timeout` for the first)."""
        for body in self._queue.read_all(timeout):
            try:
                event = json.loads(body)
                self.counts[(str(event["type"]), str(event.get("subject")))] += 1
            except (ValueError, KeyError, TypeError):
                self.counts[(UNPARSEABLE, "")] += 1
        return self.counts

    def of_type(self, event_type: str) -> Counter[str]:
        """Counts of one event type, by subject."""
        return Counter(
            {subject: n for (kind, subject), n in self.counts.items() if kind == event_type}
        )


@contextmanager
def event_counter(stack: RunningStack, name: str) -> Iterator[EventCounter]:
    counter = EventCounter(stack, name)
    counter.start()
    try:
        yield counter
    finally:
        counter.stop()


def wait_all(fiscus: Fiscus, ids: list[str], timeout: float) -> dict[str, Simulation]:
    """Each simulation's last state, once all are finished (or `timeout` passed).

    A round reads each simulation once; rounds are paced so that the reads stay under
    the key's default rate limit (600 a minute) however many simulations there are.
    """
    deadline = time.monotonic() + timeout
    last: dict[str, Simulation] = {}
    pause = max(1.0, len(ids) * POLL_PACE_SECONDS)
    while time.monotonic() < deadline:
        try:
            last = {sid: fiscus.get_simulation(sid) for sid in ids}
        except FiscusError as error:
            # 503 is the gateway's "try again shortly" (e.g. its rate limiter's Redis is
            # slow on a loaded machine), 429 "slow down": a client waits and asks again.
            if error.status not in (429, 503):
                raise
            time.sleep(pause)
            continue
        if all(s.finished for s in last.values()):
            break
        time.sleep(pause)
    return last


def result_frames(simulation: Simulation) -> dict[str, pd.DataFrame]:
    """The simulation's households and people, all partitions, in id order; checksums checked."""
    parts: dict[str, list[pd.DataFrame]] = {HOUSEHOLDS_FILE: [], PEOPLE_FILE: []}
    assert simulation.results is not None, simulation
    for result in simulation.results:
        data = storage.read_bytes(result["uri"])
        assert storage.sha256_of(result["uri"]) == result["sha256"], result
        name = result.get("name") or result["uri"].rsplit("/", 1)[-1]
        parts[name].append(pd.read_parquet(io.BytesIO(data)))
    keys = {HOUSEHOLDS_FILE: ["household_id"], PEOPLE_FILE: ["person_id"]}
    return {
        name: pd.concat(frames, ignore_index=True)
        .sort_values(keys[name], kind="mergesort")
        .reset_index(drop=True)
        for name, frames in parts.items()
    }


def partition_rows(stack: RunningStack, simulation_ids: list[str]) -> list[dict[str, Any]]:
    """The simulation service's partition rows of these simulations."""

    async def query() -> list[dict[str, Any]]:
        engine = create_async_engine(make_url(stack.settings.database_url))
        try:
            async with engine.connect() as connection:
                result = await connection.execute(
                    sa.text(
                        "SELECT simulation_id, partition, status, attempts, started_at, "
                        "now() - started_at AS running_for FROM simulation.partitions "
                        "WHERE simulation_id = ANY(:ids) ORDER BY simulation_id, partition"
                    ),
                    {"ids": simulation_ids},
                )
                return [dict(row._mapping) for row in result]
        finally:
            await engine.dispose()

    return asyncio.run(query())


def publish_raw(stack: RunningStack, body: bytes, routing_key: str, exchange: str = "") -> str:
    """Publish bytes as they are: to a queue by name (default exchange) or to an exchange.

    Returns the AMQP message id given to the message (the services log it per delivery).
    """
    message_id = uuid.uuid4().hex

    async def publish() -> None:
        async with await aio_pika.connect(stack.settings.amqp_url) as connection:
            channel = await connection.channel(publisher_confirms=True)
            target = (
                channel.default_exchange
                if not exchange
                else await channel.get_exchange(exchange, ensure=False)
            )
            await target.publish(
                aio_pika.Message(
                    body,
                    message_id=message_id,
                    content_type="application/cloudevents+json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=routing_key,
            )

    asyncio.run(publish())
    return message_id


def deliveries_logged(stack: RunningStack, processes: tuple[str, ...], message_id: str) -> int:
    """How many times the processes' consumers received the message (their `Received` lines)."""
    received = 0
    for process in processes:
        for line in stack.log(process).splitlines():
            if message_id not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("message_id") == message_id and entry.get("message") == "Received":
                received += 1
    return received


def take_dead_letters(
    stack: RunningStack, queue: str, count: int, timeout: float
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Up to `count` messages of `<queue>.dlq` (acknowledged: taken off the queue)."""

    async def take() -> list[aio_pika.abc.AbstractIncomingMessage]:
        taken: list[aio_pika.abc.AbstractIncomingMessage] = []
        async with await aio_pika.connect(stack.settings.amqp_url) as connection:
            channel = await connection.channel()
            dlq = await channel.declare_queue(f"{queue}.dlq", passive=True)
            deadline = time.monotonic() + timeout
            while len(taken) < count and time.monotonic() < deadline:
                message = await dlq.get(fail=False)
                if message is None:
                    await asyncio.sleep(0.2)
                    continue
                await message.ack()
                taken.append(message)
        return taken

    return asyncio.run(take())


class Supervisor:
    """Starts whatever stack process is down again, as a process supervisor would.

    A thread calls `stack.up()` whenever one of `processes` is not running; an `up()`
    that fails (a process died while it waited) is counted and tried again.
    """

    def __init__(self, stack: RunningStack, processes: tuple[str, ...], poll: float = 0.5):
        self._stack = stack
        self._processes = processes
        self._poll = poll
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)
        self.restart_seconds: list[float] = []
        self.failed_starts = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            if any(self._stack.pid(process) is None for process in self._processes):
                began = time.monotonic()
                try:
                    self._stack.up()
                    self.restart_seconds.append(round(time.monotonic() - began, 1))
                except subprocess.CalledProcessError:
                    self.failed_starts += 1
            self._stop.wait(self._poll)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 900) -> None:
        """Stop watching, once a restart under way is over; then make sure all are up."""
        self._stop.set()
        self._thread.join(timeout)
        self._stack.up()


@contextmanager
def supervised(stack: RunningStack, processes: tuple[str, ...]) -> Iterator[Supervisor]:
    supervisor = Supervisor(stack, processes)
    supervisor.start()
    try:
        yield supervisor
    finally:
        supervisor.stop()
