"""Factories for the events and bodies the tests send: ids, content hashes, CloudEvents;
and the simulation service's domain objects as a worker loads them."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from contracts.envelope import CloudEvent
from contracts.events.dataset.v1 import DatasetRegistered
from contracts.events.policy.v1 import PolicyCreated
from contracts.events.simulation.v1 import ResultFile, SimulationCompleted
from contracts.results.v1 import HOUSEHOLDS_FILE, PEOPLE_FILE
from services.simulation.domain.lifecycle import Simulation
from services.simulation.domain.partitions import PlannedPartition
from services.simulation.domain.results import StoredResult
from services.simulation.domain.simulations import Status
from tests.reforms import CTC_REFORM


def new_id(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:12]}"


def content_hash(name: str) -> str:
    """A distinct content per dataset or policy: equal hashes would make equal simulations."""
    return hashlib.sha256(name.encode()).hexdigest()


def dataset_event(dataset_id: str, storage_uri: str = "file:///nowhere") -> CloudEvent:
    """`dataset.registered` of a dataset of two households in California."""
    payload = DatasetRegistered(
        dataset_id=dataset_id,
        name=f"{dataset_id} name",
        storage_uri=storage_uri,
        sha256=content_hash(dataset_id),
        year=2024,
        households=2,
        people=3,
        states=["CA"],
    )
    return CloudEvent.wrap(payload, source="/fiscus/dataset", subject=dataset_id)


def policy_event(policy_id: str) -> CloudEvent:
    """`policy.created` of the CTC reform, as the policy service announces a policy."""
    payload = PolicyCreated(
        policy_id=policy_id, name=policy_id, sha256=content_hash(policy_id), data=CTC_REFORM
    )
    return CloudEvent.wrap(payload, source="/fiscus/policy", subject=policy_id)


def bare_policy_event(name: str) -> CloudEvent:
    """`policy.created` of an empty policy, without a subject: a message for the broker's
    own tests, which no projection needs to make sense of."""
    return CloudEvent.wrap(
        PolicyCreated(policy_id=name, name=name, sha256="0" * 64, data={}), source="/tests"
    )


def completed_event(simulation_id: str, files: list[ResultFile]) -> CloudEvent:
    """`simulation.completed` of a simulation whose results are `files`."""
    now = datetime.now(UTC)
    payload = SimulationCompleted(
        simulation_id=simulation_id,
        dataset_id="ds-synthetic",
        policy_id="pol-ctc-3000",
        baseline_policy_id=None,
        year=2025,
        results=files,
        model_version="policyengine-us 2.68.0",
        dataset_sha256="0" * 64,
        started_at=now,
        completed_at=now,
        seconds=1.5,
    )
    return CloudEvent.wrap(payload, source="/fiscus/simulation", subject=simulation_id)


def queued_simulation(**overrides: Any) -> Simulation:
    """A queued simulation of 2026 over the whole country, as the worker loads it."""
    simulation = Simulation(
        id="sim-1",
        status=Status.QUEUED,
        dataset_id="ds-1",
        policy_id="pol-1",
        baseline_policy_id=None,
        year=2026,
        years=(2026,),
    )
    return replace(simulation, **overrides)


def planned_partitions(*states: tuple[str, ...], year: int = 2026) -> list[PlannedPartition]:
    """A plan of one partition per group of states, of one household per state."""
    return [
        PlannedPartition(index=index, year=year, states=group, households=len(group))
        for index, group in enumerate(states)
    ]


def result_files(partition: int, year: int = 2026) -> list[StoredResult]:
    """A partition's two written result files."""
    return [
        StoredResult(
            name=name,
            uri=f"file:///results/sim-1/{year}/partition-{partition:04d}/{name}",
            sha256=content_hash(f"{name}-{year}-{partition}"),
            rows=1,
            year=year,
            partition=partition,
        )
        for name in (HOUSEHOLDS_FILE, PEOPLE_FILE)
    ]


def partition_timings(seconds: float = 1.0, **overrides: Any) -> dict[str, Any]:
    """What a worker records of a partition's run: each of its three steps `seconds` long."""
    return {
        "load_seconds": seconds,
        "calculation_seconds": seconds,
        "write_seconds": seconds,
        "reform_path": "full",
        "reform_path_reason": "full computation requested",
        "baseline_source": "calculated",
        **overrides,
    }
