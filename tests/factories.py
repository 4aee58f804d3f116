"""Factories for the events and bodies the tests send: ids, content hashes, CloudEvents."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

from contracts.envelope import CloudEvent
from contracts.events.dataset.v1 import DatasetRegistered
from contracts.events.policy.v1 import PolicyCreated
from contracts.events.simulation.v1 import ResultFile, SimulationCompleted
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
