"""Client side of the load scenarios: a key of their own, and requests at a fixed rate.

The fixed-rate schedule is open-loop: request i is sent at start + i / rate whatever
the answers before it take, so a slow answer does not slow the requests after it
down (a closed loop would hide the slowness it causes). Each latency counts from
the time the request was due, so the client's own lateness is counted too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from tests.stack import RunningStack

# Far above any rate of the scenarios: the load is on the stack, not on the limiter.
LOAD_RATE_LIMIT = "100000/minute"


def load_key(stack: RunningStack) -> str:
    """An admin key whose rate limit the scenarios never reach (the bootstrap key has
    the gateway's default, 600/minute)."""
    created = httpx.post(
        f"{stack.gateway_url}/api/v1/keys",
        json={"name": "load scenarios", "role": "admin", "rate_limit": LOAD_RATE_LIMIT},
        headers={"Authorization": f"Bearer {stack.admin_key}"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    secret: str = created.json()["secret"]
    return secret


def load_client(
    stack: RunningStack, key: str, timeout: float, connections: int = 200
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"{stack.gateway_url}/api/v1",
        headers={"Authorization": f"Bearer {key}"},
        timeout=timeout,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


@dataclass
class Timed:
    """One GET of the schedule: when it was due and sent, its status and latency."""

    path: str
    due: float
    sent: float = 0.0
    status: int = 0
    seconds: float = 0.0
    error: str = ""


async def timed_get(api: httpx.AsyncClient, timed: Timed) -> Timed:
    timed.sent = time.monotonic()
    try:
        answer = await api.get(timed.path)
        timed.status = answer.status_code
    except httpx.HTTPError as exc:
        timed.error = f"{type(exc).__name__}: {exc}"
    timed.seconds = time.monotonic() - timed.due
    return timed


async def at_fixed_rate(
    api: httpx.AsyncClient, paths: Sequence[str], rate: float, seconds: float, grace: float
) -> list[Timed]:
    """GET `paths` in turn, `rate` per second for `seconds`; every answer, in order.

    Bounded: exactly rate * seconds requests, and at most `grace` seconds after the
    last one is sent for the answers still out (those left are cancelled, errors).
    """
    count = round(rate * seconds)
    start = time.monotonic()
    calls: list[Timed] = []
    tasks: list[asyncio.Task[Timed]] = []
    for n in range(count):
        timed = Timed(paths[n % len(paths)], due=start + n / rate)
        await asyncio.sleep(max(0.0, timed.due - time.monotonic()))
        calls.append(timed)
        tasks.append(asyncio.create_task(timed_get(api, timed)))
    _, late = await asyncio.wait(tasks, timeout=grace)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    for timed, task in zip(calls, tasks, strict=True):
        if task in late:
            timed.error = f"no answer within {grace} s of the last request"
    return calls
