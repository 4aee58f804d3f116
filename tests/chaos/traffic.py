"""Client traffic for the chaos and load scenarios: distinct simulation requests, bursts, waiting.

Every request in a scenario must be a distinct simulation (an identical request is
answered from the first one by the content key). Requests differ by dataset: each is
on a small synthetic dataset of its own, for one reform and the year the workers warm
at start, so that no request pays for another year's parameters.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from shared.settings import Settings
from tests.reforms import CTC_REFORM
from tests.stack import RunningStack

# The year a worker's engine is warm for from its start (PopulationEngine.warm).
YEAR = date.today().year
# Between two status reads while waiting for many simulations.
POLL_PACE_SECONDS = 0.125
# Datasets created at once when a scenario needs many.
CREATING_AT_ONCE = 4
PROBLEM = "application/problem+json"
FINISHED = {"completed", "failed", "cancelled"}


async def create_datasets(
    api: httpx.AsyncClient, name: str, count: int, households: int, seed: int
) -> list[str]:
    """`count` synthetic datasets of `households` each (seeds from `seed` on); their ids."""
    gate = asyncio.Semaphore(CREATING_AT_ONCE)

    async def one(index: int) -> str:
        async with gate:
            answer = await api.post(
                "/datasets/synthetic",
                json={"name": f"{name} {index}", "households": households, "seed": seed + index},
            )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    return list(await asyncio.gather(*(one(index) for index in range(count))))


async def create_policy(api: httpx.AsyncClient, name: str) -> str:
    """The CTC reform; its id."""
    policy = await api.post("/policies", json={"name": f"{name} CTC", "data": CTC_REFORM})
    assert policy.status_code == 201, policy.text
    return str(policy.json()["id"])


def one_request_per_dataset(dataset_ids: Iterable[str], policy_id: str) -> list[dict[str, Any]]:
    """A nationwide simulation request of the reform on each dataset, in the warm year."""
    return [
        {"dataset_id": dataset_id, "policy_id": policy_id, "year": YEAR, "region": "us"}
        for dataset_id in dataset_ids
    ]


def api_client(stack: RunningStack, timeout: float = 30.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"{stack.gateway_url}/api/v1",
        headers={"Authorization": f"Bearer {stack.admin_key}"},
        timeout=timeout,
    )


async def create_inputs(
    api: httpx.AsyncClient, name: str, households: int, seed: int
) -> tuple[str, str]:
    """A synthetic dataset and a CTC reform; their ids."""
    (dataset_id,) = await create_datasets(api, name, 1, households, seed)
    return dataset_id, await create_policy(api, name)


@dataclass
class Answer:
    """One POST: its body, status, latency, simulation id (2xx) and Idempotency-Key."""

    body: dict[str, Any]
    idempotency_key: str
    status: int = 0
    sent_at: float = 0.0
    seconds: float = 0.0
    simulation_id: str | None = None
    content_type: str = ""
    error: str = ""


async def submit(api: httpx.AsyncClient, answer: Answer) -> Answer:
    """POST one simulation request; a transport error is kept in `error`, not raised."""
    started = answer.sent_at = time.monotonic()
    try:
        response = await api.post(
            "/simulations", json=answer.body, headers={"Idempotency-Key": answer.idempotency_key}
        )
    except httpx.HTTPError as exc:
        answer.error = f"{type(exc).__name__}: {exc}"
        answer.seconds = time.monotonic() - started
        return answer
    answer.seconds = time.monotonic() - started
    answer.status = response.status_code
    answer.content_type = response.headers.get("content-type", "")
    if response.status_code in (200, 202):
        answer.simulation_id = str(response.json()["id"])
    return answer


def new_answers(bodies: Iterable[dict[str, Any]]) -> list[Answer]:
    return [Answer(body, "chaos-" + secrets.token_hex(8)) for body in bodies]


async def burst(
    api: httpx.AsyncClient, answers: list[Answer], concurrency: int = 20
) -> list[Answer]:
    """Submit every request at once (at most `concurrency` in flight)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(answer: Answer) -> Answer:
        async with gate:
            return await submit(api, answer)

    return list(await asyncio.gather(*(one(answer) for answer in answers)))


async def wait_finished(
    api: httpx.AsyncClient, simulation_ids: Iterable[str], timeout: float
) -> dict[str, str]:
    """Poll until every simulation is finished or `timeout` passes; id → last status."""
    pending = set(simulation_ids)
    statuses: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for simulation_id in sorted(pending):
            try:
                answer = await api.get(f"/simulations/{simulation_id}")
            except httpx.HTTPError:
                continue
            if answer.status_code == 200:
                statuses[simulation_id] = answer.json()["status"]
                if statuses[simulation_id] in FINISHED:
                    pending.discard(simulation_id)
            # Paced under the per-key rate limit (600/minute by default) however many wait.
            await asyncio.sleep(POLL_PACE_SECONDS)
        if pending:
            await asyncio.sleep(1.0)
    return statuses


async def completed_once(
    api: httpx.AsyncClient, answers: list[Answer], timeout: float
) -> list[str]:
    """The ids of `answers` once every one is completed; fails if any request was not
    accepted, two share an id, or one is not completed within `timeout`."""
    refused = [(a.status, a.error) for a in answers if a.status not in (200, 202)]
    assert refused == []
    ids = [str(a.simulation_id) for a in answers]
    assert duplicates(ids) == {}
    statuses = await wait_finished(api, ids, timeout=timeout)
    unfinished = {i: s for i, s in statuses.items() if s != "completed"}
    assert len(statuses) == len(ids) and unfinished == {}, unfinished
    return ids


async def query(settings: Settings, statement: str, **parameters: Any) -> list[Any]:
    """Rows of one SQL statement on the stack's database (superuser connection)."""
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(sa.text(statement), parameters)).all())
    finally:
        await engine.dispose()


async def stored_per_dataset(settings: Settings, dataset_ids: list[str]) -> dict[str, int]:
    """Simulation rows, distinct content keys and reports stored for these datasets."""
    (rows, keys), *_ = await query(
        settings,
        "SELECT count(*), count(DISTINCT key) FROM simulation.simulations"
        " WHERE dataset_id = ANY(:ids)",
        ids=dataset_ids,
    )
    (reports,), *_ = await query(
        settings,
        "SELECT count(*) FROM aggregation.reports WHERE dataset_id = ANY(:ids)",
        ids=dataset_ids,
    )
    return {"simulation_rows": rows, "simulation_keys": keys, "reports": reports}


def duplicates(values: Iterable[str]) -> dict[str, int]:
    """Values seen more than once, with their counts."""
    return {value: n for value, n in Counter(values).items() if n > 1}


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.5
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(interval)
    return await check()
