"""Benchmark: how fast the gateway accepts a burst of simulation requests.

Starts its own gateway, dataset, policy and simulation services, without workers
(ports from FISCUS_BENCH_PORT_BASE, default 18300; database `fiscus_bench`, RabbitMQ
vhost `fiscus-bench`, both made afresh), creates a small synthetic dataset and a policy,
then sends `--count` distinct simulation requests at once, `--rounds` times (each round
new requests: another year and region), each with an Idempotency-Key as a careful
client sends it. Prints the p50, p99 and slowest time to the answer (202) per round.
There is no direct policyengine-us arm: a script by hand has nothing to accept.

Run: `make bench` (or `python benchmarks/accept.py --count 100 --rounds 3`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.stack import (
    admin_client,
    bench_stack,
)
from shared.states import STATE_CODES
from tests.reliability import percentile

CTC = {"gov.irs.credits.ctc.amount.base[0].amount": {"2025-01-01.2100-12-31": 3000}}
SERVICES = {
    "gateway": ["services.gateway.main"],
    "dataset": ["services.dataset.main"],
    "policy": ["services.policy.main"],
    "simulation": ["services.simulation.main", "api"],
}
YEARS = range(2025, 2036)  # with the regions, 572 distinct requests: rounds x count
REGIONS = ("us", *sorted(STATE_CODES))


def requests(dataset_id: str, policy_id: str, count: int, round_: int) -> list[dict[str, Any]]:
    """`count` requests no earlier round made: a (year, region) pair each."""
    pairs = [(year, region) for region in REGIONS for year in YEARS]
    chosen = pairs[round_ * count : (round_ + 1) * count]
    if len(chosen) < count:
        raise SystemExit(f"at most {len(pairs)} distinct requests in all rounds")
    return [
        {"dataset_id": dataset_id, "policy_id": policy_id, "year": year, "region": region}
        for year, region in chosen
    ]


async def burst(api: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> list[tuple[float, int]]:
    async def one(body: dict[str, Any]) -> tuple[float, int]:
        headers = {"Idempotency-Key": "bench-" + secrets.token_hex(8)}
        started = time.perf_counter()
        answer = await api.post("/simulations", json=body, headers=headers)
        return time.perf_counter() - started, answer.status_code

    return list(await asyncio.gather(*(one(body) for body in bodies)))


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(
    gateway: str, admin_key: str, count: int, rounds: int, pids: dict[str, int]
) -> None:
    async with admin_client(gateway, admin_key, connections=count + 10) as api:
        dataset = await api.post(
            "/datasets/synthetic", json={"name": "accept bench", "households": 10, "seed": 1}
        )
        policy = await api.post("/policies", json={"name": "accept bench CTC", "data": CTC})
        dataset.raise_for_status()
        policy.raise_for_status()
        dataset_id, policy_id = dataset.json()["id"], policy.json()["id"]
        # One request alone: it waits for the simulation service to have both inputs,
        # and warms every connection pool on the way.
        (first,) = await burst(api, requests(dataset_id, policy_id, 1, 0))
        print(f"one request alone: {1000 * first[0]:.0f} ms, status {first[1]}")
        for round_ in range(rounds):
            bodies = requests(dataset_id, policy_id, count, round_ + 1)
            cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            started = time.perf_counter()
            answers = await burst(api, bodies)
            elapsed = time.perf_counter() - started
            cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
            milliseconds = [1000 * seconds for seconds, _ in answers]
            statuses: dict[int, int] = {}
            for _, status in answers:
                statuses[status] = statuses.get(status, 0) + 1
            print(
                f"round {round_ + 1}: {count} at once, statuses {statuses}, "
                f"p50 {percentile(milliseconds, 50):.0f} ms, "
                f"p99 {percentile(milliseconds, 99):.0f} ms, "
                f"slowest {max(milliseconds):.0f} ms, all answered in {elapsed:.2f} s"
            )
            print(
                "  CPU per request: "
                + ", ".join(f"{name} {1000 * used / count:.1f} ms" for name, used in cpu.items())
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port_base = int(os.environ.get("FISCUS_BENCH_PORT_BASE", "18300"))
    with bench_stack(SERVICES, port_base) as stack:
        # The gateway's /readyz asks every service; this stack runs four of them.
        stack.wait((1, 2, 3), timeout=300)
        asyncio.run(measure(stack.gateway, stack.key, args.count, args.rounds, stack.pids))


if __name__ == "__main__":
    main()
