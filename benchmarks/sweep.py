"""Benchmark: many reforms on one dataset, and a budget window, against one simulation alone.

Starts its own stack with two workers (ports from FISCUS_BENCH_PORT_BASE, default 18350;
database `fiscus_bench`, RabbitMQ vhost `fiscus-bench`, both made afresh), makes three
synthetic datasets of `--households` each (so that no arm finds another's kept
baseline), and measures, end to end through the gateway (from the first request to the
last simulation completed):

1. one CTC reform on the first dataset, alone, for `--year`;
2. `--reforms` different CTC reforms on the second dataset, submitted at once
   (they share one baseline: `domain.baselines`);
3. one reform over a `--window`-year budget window on the third dataset.

Prints the ratios sweep ÷ alone and window ÷ alone (issue targets: ≤ 3 for 20 reforms on
10,000 households and for a 10-year window). There is no direct policyengine-us arm:
`benchmarks.population` compares the engine with it, run for run.

Run: `python -m benchmarks.sweep --households 10000` (about half an hour on two cores).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

import httpx

from benchmarks.stack import (
    admin_client,
    bench_stack,
)

SERVICES = {
    "gateway": ["services.gateway.main"],
    "dataset": ["services.dataset.main"],
    "policy": ["services.policy.main"],
    "simulation": ["services.simulation.main", "api"],
    "worker": ["services.simulation.main", "worker"],
    "worker-2": ["services.simulation.main", "worker"],
}
FINISHED = {"completed", "failed", "cancelled"}


def ctc(amount: int) -> dict[str, Any]:
    return {"gov.irs.credits.ctc.amount.base[0].amount": {"2025-01-01.2100-12-31": amount}}


async def dataset(api: httpx.AsyncClient, households: int, seed: int) -> str:
    answer = await api.post(
        "/datasets/synthetic",
        json={"name": f"sweep bench {seed}", "households": households, "seed": seed},
    )
    answer.raise_for_status()
    return str(answer.json()["id"])


async def policy(api: httpx.AsyncClient, amount: int) -> str:
    answer = await api.post("/policies", json={"name": f"CTC {amount}", "data": ctc(amount)})
    answer.raise_for_status()
    return str(answer.json()["id"])


async def simulate(api: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> tuple[float, Any]:
    """Seconds from the first request to the last simulation finished; partitions by path."""
    started = time.perf_counter()
    answers = await asyncio.gather(*(api.post("/simulations", json=body) for body in bodies))
    ids = []
    for answer in answers:
        answer.raise_for_status()
        ids.append(answer.json()["id"])
    waiting, finished = set(ids), {}
    while waiting:
        await asyncio.sleep(0.5)
        for simulation_id in list(waiting):
            state = (await api.get(f"/simulations/{simulation_id}")).json()
            if state["status"] in FINISHED:
                if state["status"] != "completed":
                    raise SystemExit(f"simulation {simulation_id} {state['status']}: {state}")
                finished[simulation_id] = state
                waiting.discard(simulation_id)
    elapsed = time.perf_counter() - started
    paths: dict[str, int] = {"baselines_reused": 0}
    for state in finished.values():
        timings = state.get("timings") or {}
        paths["baselines_reused"] += timings.get("baselines_reused", 0)
        for path, count in timings.get("reform_paths", {}).items():
            paths[f"{path} arms"] = paths.get(f"{path} arms", 0) + count
    return elapsed, paths


async def measure(gateway: str, key: str, args: argparse.Namespace) -> None:
    async with admin_client(gateway, key) as api:
        alone_data, sweep_data, window_data = [
            await dataset(api, args.households, seed) for seed in (101, 102, 103)
        ]
        policies = [await policy(api, 2_100 + 50 * n) for n in range(args.reforms + 1)]
        # Both workers warm before the clock starts (the first request waits for the
        # simulation service to have heard of the inputs, not for a worker).
        year = args.year
        alone, sources = await simulate(
            api, [{"dataset_id": alone_data, "policy_id": policies[0], "year": year}]
        )
        print(f"one reform alone, {args.households} households: {alone:.1f} s {sources}")
        sweep, sources = await simulate(
            api,
            [
                {"dataset_id": sweep_data, "policy_id": policy_id, "year": year}
                for policy_id in policies[1:]
            ],
        )
        print(f"{args.reforms} reforms at once on one dataset: {sweep:.1f} s {sources}")
        print(f"  ratio sweep ÷ alone: {sweep / alone:.2f}   (target ≤ 3 for 20 on 10,000)")
        years = list(range(year, year + args.window))
        window, sources = await simulate(
            api, [{"dataset_id": window_data, "policy_id": policies[0], "years": years}]
        )
        print(f"a {args.window}-year window: {window:.1f} s {sources}")
        print(f"  ratio window ÷ alone: {window / alone:.2f}   (target ≤ 3 for 10 years)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--reforms", type=int, default=20)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--year", type=int, default=2025)
    args = parser.parse_args()
    port_base = int(os.environ.get("FISCUS_BENCH_PORT_BASE", "18350"))
    worker_2 = {"FISCUS_WORKER_PORT": str(port_base + 14)}
    with bench_stack(SERVICES, port_base, {"worker-2": worker_2}, FISCUS_WORKERS="2") as stack:
        stack.wait((1, 2, 3, 13, 14), timeout=600)
        asyncio.run(measure(stack.gateway, stack.key, args))


if __name__ == "__main__":
    main()
