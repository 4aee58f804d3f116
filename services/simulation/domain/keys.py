"""The content address of a simulation: what makes two requests the same calculation.

Ids are names; the key is what the result depends on. Two requests on datasets with
the same bytes, policies with the same parameters, the same year and region, the
same model version and the same result format give the same results, so the second
may be answered with the first. A new model or format version is a new key, so a
result is never served from an older model.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
from dataclasses import asdict, dataclass

CURRENT_LAW = "current-law"


@dataclass(frozen=True)
class SimulationInputs:
    """Everything a simulation's results depend on, by content."""

    dataset_sha256: str
    policy_sha256: str
    baseline_policy_sha256: str | None
    year: int
    region: str
    model_version: str
    result_format_version: int
    # A budget window, first year first; () or (year,) is the one year `year`.
    years: tuple[int, ...] = ()
    # Extra policyengine-us variables stored; () is the standard results alone.
    outputs: tuple[str, ...] = ()


def simulation_key(inputs: SimulationInputs) -> str:
    """SHA-256 (hex) of the inputs in a canonical form; current law is a baseline of its own.

    A one-year simulation's canonical form has no `years`, so its key is the one it
    had before budget windows existed.
    """
    fields = asdict(inputs)
    fields["baseline_policy_sha256"] = inputs.baseline_policy_sha256 or CURRENT_LAW
    if tuple(inputs.years) in ((), (inputs.year,)):
        del fields["years"]
    else:
        fields["years"] = list(inputs.years)
    if inputs.outputs:
        fields["outputs"] = sorted(set(inputs.outputs))
    else:
        del fields["outputs"]
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@functools.cache
def model_version() -> str:
    """The policyengine-us version the workers run, read without importing the model."""
    return importlib.metadata.version("policyengine-us")
