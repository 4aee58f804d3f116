"""Scenario 1: a simulation worker killed (`kill -9`) in the middle of a partition, again and again.

Every simulation still completes, an independent subscriber on `fiscus.events` counts
exactly one `simulation.completed` per simulation, and each result equals an
undisturbed run of the same calculation.

Each pair of runs has a dataset of its own, and all share one policy (one reformed
system for a worker to build). The undisturbed run: the same dataset, policy and year,
asked with one extra output variable (`employment_income`). The content key (dataset,
policy, year, outputs, ...) differs, so it is a simulation of its own, computed on the
same partitions; the extra column is the only difference in its files. Both runs are
submitted together, the disturbed ones first, and only a worker computing a partition of
a disturbed run is killed; every partition of the undisturbed runs must have been
computed in a single attempt. Each disturbed run's household and person files must
equal the undisturbed run's on every column they share, value for value (pandas' exact
frame equality).

"In the middle" is read from outside: the partition's row in the simulation service
(`running`, started at least a second ago) and the worker's log, whose last line
about partitions says it started that one and not yet done it. Each partition is
killed at most once, so no partition reaches the attempt limit (FISCUS_DELIVERY_LIMIT).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from fiscus_client import Fiscus

from tests.chaos.observers import (
    EventCounter,
    event_counter,
    partition_rows,
    result_frames,
    supervised,
    wait_all,
)
from tests.reforms import CTC_REFORM
from tests.reliability import record, scaled
from tests.stack import RunningStack

pytestmark = pytest.mark.slow

WORKERS = ("worker", "worker-2")
HOUSEHOLDS = 300
REFERENCE_OUTPUT = "employment_income"
PARTITION_LINE = re.compile(r"^partition (\d+) \(.*\) of simulation (\S+) (started|done)$")


@pytest.fixture(scope="module")
def fiscus(chaos_stack: RunningStack) -> Fiscus:
    return Fiscus(chaos_stack.gateway_url, chaos_stack.admin_key)


@pytest.fixture(scope="module")
def counter(chaos_stack: RunningStack) -> Iterator[EventCounter]:
    with event_counter(chaos_stack, "chaos.observer.worker-killed") as events:
        yield events


def held_partition(stack: RunningStack, worker: str) -> tuple[str, int] | None:
    """The (simulation, partition) the worker's log says it is computing, if any."""
    for line in reversed(stack.log(worker).splitlines()):
        try:
            message = str(json.loads(line).get("message", ""))
        except ValueError:
            continue
        found = PARTITION_LINE.match(message)
        if found:
            partition, simulation_id, what = found.groups()
            return (simulation_id, int(partition)) if what == "started" else None
    return None


def submit(fiscus: Fiscus, dataset_id: str, policy_id: str, outputs: list[str]) -> str:
    return fiscus.simulate(dataset_id, policy_id, 2025, outputs=outputs).id


def kill_in_partitions(
    stack: RunningStack, simulation_ids: list[str], kills: int, timeout: float
) -> list[dict[str, Any]]:
    """Kill a worker mid-partition `kills` times; the kills made.

    A supervisor (observers.Supervisor) starts each killed worker again meanwhile; a
    worker may be killed while the other is still warming up, leaving none for a while.
    """
    made: list[dict[str, Any]] = []
    killed_partitions: set[tuple[str, int]] = set()
    deadline = time.monotonic() + timeout
    turn = 0
    while len(made) < kills and time.monotonic() < deadline:
        rows = {
            (row["simulation_id"], row["partition"]): row
            for row in partition_rows(stack, simulation_ids)
        }
        if rows and all(row["status"] == "done" for row in rows.values()):
            break  # nothing left to interrupt
        # Alternate: prefer the worker not killed last.
        for worker in (WORKERS[turn % 2], WORKERS[(turn + 1) % 2]):
            held = held_partition(stack, worker)
            row = rows.get(held) if held else None
            if (
                held is None
                or row is None
                or held in killed_partitions
                or row["status"] != "running"
                or row["running_for"] is None
                or row["running_for"] < timedelta(seconds=1)
                or stack.pid(worker) is None
            ):
                continue
            pid = stack.kill(worker)
            killed_partitions.add(held)
            made.append(
                {
                    "worker": worker,
                    "pid": pid,
                    "simulation_id": held[0],
                    "partition": held[1],
                    "attempt": row["attempts"],
                    "running_for_s": round(row["running_for"].total_seconds(), 2),
                }
            )
            turn += 1
            break
        else:
            time.sleep(0.2)
    return made


def test_killed_workers_lose_nothing_duplicate_nothing_and_change_no_result(
    chaos_stack: RunningStack, fiscus: Fiscus, counter: EventCounter
) -> None:
    simulations = scaled(ci=2, full=6)
    kills = scaled(ci=2, full=5)
    started = time.monotonic()
    datasets = [
        fiscus.create_synthetic_dataset(
            f"chaos worker-killed {n}", HOUSEHOLDS, seed=91 + n, year=2025
        ).id
        for n in range(simulations)
    ]
    policy = fiscus.create_policy("chaos worker-killed CTC", CTC_REFORM).id

    # The runs to disturb first, so that their partitions are queued first; the undisturbed
    # ones right after: kills only hit workers computing a partition of the former.
    killed_ids = [submit(fiscus, d, policy, []) for d in datasets]
    reference_ids = [submit(fiscus, d, policy, [REFERENCE_OUTPUT]) for d in datasets]
    assert not set(killed_ids) & set(reference_ids)
    with supervised(chaos_stack, WORKERS) as supervisor:
        made = kill_in_partitions(chaos_stack, killed_ids, kills, timeout=1200)
        # Twelve 300-household simulations on two cores take about half an hour at full scale.
        finished = wait_all(fiscus, killed_ids + reference_ids, timeout=scaled(ci=1200, full=3600))
    elapsed = time.monotonic() - started
    references = {sid: finished[sid] for sid in reference_ids}
    partitions = partition_rows(chaos_stack, killed_ids)
    reference_partitions = partition_rows(chaos_stack, reference_ids)

    # The independent subscriber: one completion per simulation, however long it takes.
    everyone = reference_ids + killed_ids
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        counter.collect(timeout=5)
        completed = counter.of_type("simulation.completed")
        if all(completed[sid] >= 1 for sid in everyone):
            break
    counter.collect(timeout=5)  # anything late, a duplicate included
    completed = counter.of_type("simulation.completed")

    identical = []
    for reference_id, killed_id in zip(reference_ids, killed_ids, strict=True):
        if {finished[killed_id].status, references[reference_id].status} != {"completed"}:
            identical.append(False)
            continue
        reference, disturbed = (
            result_frames(references[reference_id]),
            result_frames(finished[killed_id]),
        )
        same = True
        for name, frame in disturbed.items():
            try:
                pd.testing.assert_frame_equal(frame, reference[name][list(frame.columns)])
            except AssertionError:
                same = False
        identical.append(same)

    numbers = {
        "simulations": simulations,
        "households_per_simulation": HOUSEHOLDS,
        # `progress` is a key the SDK's Simulation keeps without naming it.
        "partitions_per_simulation": (getattr(finished[killed_ids[0]], "progress", None) or {}).get(
            "partitions_total"
        ),
        "kills": len(made),
        "kills_planned": kills,
        "kill_details": made,
        "worker_restart_seconds": supervisor.restart_seconds,
        "failed_restarts_retried": supervisor.failed_starts,
        "redelivered_partitions": sum(1 for row in partitions if row["attempts"] > 1),
        "completed": sum(1 for s in finished.values() if s.status == "completed"),
        "lost": sum(1 for s in finished.values() if s.status != "completed"),
        "completed_events": {sid: completed[sid] for sid in killed_ids},
        "duplicated_completed_events": sum(max(0, completed[sid] - 1) for sid in everyone),
        "missing_completed_events": sum(1 for sid in everyone if completed[sid] == 0),
        # Partition messages that reached a worker after their simulation had completed
        # (published again by an outbox relay killed before it marked them sent): skipped.
        "partition_messages_skipped_as_completed": sum(
            chaos_stack.log(worker).count(f"skipped: simulation {sid} is completed")
            for worker in WORKERS
            for sid in everyone
        ),
        "identical": all(identical),
        "reference_partitions_attempts": sorted({r["attempts"] for r in reference_partitions}),
        "seconds": round(elapsed, 1),
    }
    record("worker_killed", **numbers)

    assert len(made) == kills, f"only {len(made)} of {kills} kills landed mid-partition: {made}"
    assert {sid: s.status for sid, s in finished.items()} == dict.fromkeys(
        killed_ids + reference_ids, "completed"
    ), finished
    # The reference is undisturbed: each of its partitions computed in one attempt.
    assert {r["attempts"] for r in reference_partitions} == {1}, reference_partitions
    assert {sid: completed[sid] for sid in everyone} == dict.fromkeys(everyone, 1), completed
    assert all(identical), identical
    # The killed partitions were started again and finished.
    for kill in made:
        (row,) = [
            r
            for r in partitions
            if r["simulation_id"] == kill["simulation_id"] and r["partition"] == kill["partition"]
        ]
        assert row["status"] == "done" and row["attempts"] >= 2, (kill, row)
