"""Benchmark: household calculations through the gateway against policyengine-us by hand.

Starts its own gateway, simulation API and households worker (ports from
FISCUS_BENCH_PORT_BASE, default 18250; database `fiscus_bench`, RabbitMQ vhost
`fiscus-bench`, both made afresh), and in the same run measures, on this process's
warm policyengine-us:

1. latency of a new household: p50 of `POST /api/v1/households/calculate` through the
   gateway, a different household each call, ÷ p50 of a direct warm
   `policyengine_us.Simulation(situation=...)` computing the same (default) variables;
2. latency of a repeated household: p50 through the gateway of a household answered
   before (the worker's kept answers), against the direct p50 of the same household;
3. throughput: 50 distinct households sent at once through the gateway
   ÷ the same 50 computed one after another directly.

Prints the ratios (targets: new ≤ 1.2, repeated p50 < 50 ms, throughput ≥ 10).
Run: `make bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import Any

import httpx

from benchmarks.stack import bench_stack
from services.simulation.domain.households import DEFAULT_VARIABLES

YEAR = "2026"
STACK = {
    "gateway": ["services.gateway.main"],
    "simulation": ["services.simulation.main", "api"],
    "households": ["services.simulation.main", "households"],
}
STATES = ["CA", "TX", "NY", "FL", "IL", "PA", "OH", "GA", "NC", "MI"]


def household(number: int) -> dict[str, Any]:
    """A distinct household: earnings, state and children vary with `number`."""
    adults = 1 + number % 2
    children = number % 4
    people: dict[str, Any] = {}
    for index in range(adults):
        people[f"adult{index}"] = {
            "age": {YEAR: 25 + (number * 7 + index) % 40},
            "employment_income": {YEAR: 8_000 + 3_750 * number + 20_000 * index},
        }
    for index in range(children):
        people[f"child{index}"] = {
            "age": {YEAR: 1 + (number + 3 * index) % 16},
            "employment_income": {YEAR: 0},
        }
    members = list(people)
    return {
        "people": people,
        "tax_units": {"tax_unit": {"members": members}},
        "households": {"home": {"members": members, "state_code": {YEAR: STATES[number % 10]}}},
    }


def direct_call(simulation_class: Any, situation: dict[str, Any]) -> None:
    simulation = simulation_class(situation=situation)
    for variable in DEFAULT_VARIABLES:
        simulation.calculate(variable, YEAR)


async def through_gateway(
    gateway: str, key: str, bodies: list[dict[str, Any]], concurrently: bool
) -> list[float]:
    """Seconds each call took (all at once, or one after another)."""
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(
        base_url=gateway, headers=headers, timeout=120, limits=limits
    ) as client:

        async def one(body: dict[str, Any]) -> float:
            started = time.perf_counter()
            answer = await client.post("/api/v1/households/calculate", json=body)
            answer.raise_for_status()
            return time.perf_counter() - started

        if concurrently:
            return list(await asyncio.gather(*(one(body) for body in bodies)))
        return [await one(body) for body in bodies]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=15, help="calls per latency sample")
    parser.add_argument("--households", type=int, default=50)
    args = parser.parse_args()
    port_base = int(os.environ.get("FISCUS_BENCH_PORT_BASE", "18250"))
    with bench_stack(STACK, port_base) as stack:
        started = time.perf_counter()
        import policyengine_us

        print(f"import policyengine_us: {time.perf_counter() - started:.1f} s")
        stack.wait((12, 3), timeout=600)
        run(policyengine_us.Simulation, stack.gateway, stack.key, args.calls, args.households)


def run(simulation_class: Any, gateway: str, key: str, calls: int, count: int) -> None:
    one = household(7)
    for _ in range(3):  # warm: the year's parameters, caches
        direct_call(simulation_class, one)
    asyncio.run(through_gateway(gateway, key, [{"household": one}] * 3, concurrently=False))

    new = [household(1_000 + n) for n in range(calls)]
    direct = []
    for situation in new:
        started = time.perf_counter()
        direct_call(simulation_class, situation)
        direct.append(time.perf_counter() - started)
    bodies = [{"household": situation} for situation in new]
    fiscus = asyncio.run(through_gateway(gateway, key, bodies, False))
    direct_p50, fiscus_p50 = statistics.median(direct), statistics.median(fiscus)
    print(
        f"new household latency p50: direct {direct_p50 * 1000:.0f} ms, "
        f"via gateway {fiscus_p50 * 1000:.0f} ms"
    )
    print(f"  ratio gateway ÷ direct: {fiscus_p50 / direct_p50:.2f}   (target ≤ 1.2)")

    repeated = asyncio.run(through_gateway(gateway, key, [{"household": one}] * calls, False))
    repeated_p50 = statistics.median(repeated)
    print(
        f"repeated household latency p50 via gateway: {repeated_p50 * 1000:.1f} ms "
        f"(p90 {statistics.quantiles(repeated, n=10)[-1] * 1000:.1f} ms; "
        f"direct {direct_p50 * 1000:.0f} ms, {direct_p50 / repeated_p50:.0f}x)   (target < 50 ms)"
    )

    households = [household(n) for n in range(count)]
    started = time.perf_counter()
    for situation in households:
        direct_call(simulation_class, situation)
    sequential = time.perf_counter() - started
    started = time.perf_counter()
    asyncio.run(through_gateway(gateway, key, [{"household": h} for h in households], True))
    concurrent = time.perf_counter() - started
    print(
        f"{count} distinct households: direct one by one {sequential:.1f} s, "
        f"via gateway all at once {concurrent:.1f} s"
    )
    print(f"  throughput ratio gateway ÷ direct: {sequential / concurrent:.1f}   (target ≥ 10)")


if __name__ == "__main__":
    main()
