"""Admitting simulation requests: which inputs a caller may use, and each request's key.

A request names a dataset and policies by id; this service's projections hold them
with their content hashes, owners and deletions. A caller may use what is not deleted
and is theirs or everyone's (a public policy, a synthetic dataset; an admin: anything);
another caller's upload is as unknown as one that does not exist. The key is the
request's content address (domain/keys.py), so equal requests share one simulation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts.results.v1 import RESULT_FORMAT_VERSION
from services.simulation.domain import keys
from services.simulation.domain.simulations import SimulationRequest, unknown_inputs
from shared.principals import Caller
from shared.problems import FieldError


@dataclass(frozen=True)
class ProjectedInput:
    """A dataset or policy as this service's projection holds it."""

    id: str
    sha256: str
    owner: str | None
    deleted: bool
    # A public policy: everyone's to simulate, though it keeps its owner.
    public: bool = False

    def usable_by(self, caller: Caller) -> bool:
        """Not deleted, and the caller's or everyone's; an admin may use any."""
        if self.deleted:
            return False
        return caller.is_admin or self.public or self.owner is None or self.owner == caller.key_id


@dataclass(frozen=True)
class Inputs:
    """The projected datasets and policies a group of requests names, by id."""

    datasets: Mapping[str, ProjectedInput]
    policies: Mapping[str, ProjectedInput]

    def refusals(self, request: SimulationRequest, caller: Caller) -> list[FieldError]:
        """The request's references the caller may not use (or that are not projected)."""
        return unknown_inputs(
            request,
            {i for i, d in self.datasets.items() if d.usable_by(caller)},
            {i for i, p in self.policies.items() if p.usable_by(caller)},
        )

    def key_of(self, request: SimulationRequest) -> str:
        """The request's content address; its inputs must be known."""
        baseline = (
            self.policies[request.baseline_policy_id].sha256
            if request.baseline_policy_id is not None
            else None
        )
        return keys.simulation_key(
            keys.SimulationInputs(
                dataset_sha256=self.datasets[request.dataset_id].sha256,
                policy_sha256=self.policies[request.policy_id].sha256,
                baseline_policy_sha256=baseline,
                year=request.first_year,
                region=request.region,
                model_version=keys.model_version(),
                result_format_version=RESULT_FORMAT_VERSION,
                years=tuple(request.window),
                outputs=tuple(request.outputs),
            )
        )


def policy_ids(requests: list[SimulationRequest]) -> set[str]:
    return {r.policy_id for r in requests} | {
        r.baseline_policy_id for r in requests if r.baseline_policy_id is not None
    }


@dataclass(frozen=True)
class Admission:
    """What one request became: a new simulation, an existing equal one, or refused.

    `errors` name the unknown inputs of a refused request; `row` is the simulation of
    an admitted one.
    """

    row: Mapping[Any, Any] | None = None
    new: bool = False
    errors: tuple[FieldError, ...] = ()
