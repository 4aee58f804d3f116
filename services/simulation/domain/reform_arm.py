"""The reform arm of a run: which path computes it, and the reduced path's prefill.

A reform changes some parameters. Given the baseline run's `DependencyRecord`, every
variable that neither reads a changed parameter nor reads an affected variable has
the baseline's value under the reform too, so the reduced path gives the reform
simulation those values (as calculated values, for the periods the baseline
calculated them) before asking for its outputs; only the affected variables are
calculated. Where the record cannot vouch for that, the full path calculates
everything:

- the reform is structural (its system was built in full: it switches on or off a
  structural reform, whose variables the record does not describe);
- it changes `gov.simulation` parameters: behavioural responses read the baseline
  simulation, a read the record does not follow;
- the engine was asked for the full computation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.simulation.domain.dependencies import DependencyRecord

FULL = "full"
REDUCED = "reduced"
NONE = "none"

BEHAVIOURAL = "gov.simulation."

# Why a reform arm took the full path, as the simulation's timings and metric name it.
STRUCTURAL = "structural reform"
BEHAVIOURAL_RESPONSES = "behavioural responses read the baseline simulation"
REQUESTED = "full computation requested"


@dataclass(frozen=True)
class ReformArm:
    """How a run computed its reform arm."""

    path: str
    reason: str | None = None
    affected: frozenset[str] = frozenset()
    # Values taken from the baseline rather than calculated.
    reused: int = 0


SAME_AS_BASELINE = ReformArm(NONE, "the reform is the baseline")


def changed_parameters(
    reform: Mapping[str, Any] | None, baseline: Mapping[str, Any] | None
) -> list[str]:
    """Parameter paths whose values can differ between two policies over current law."""
    reform, baseline = reform or {}, baseline or {}
    return sorted(
        path for path in set(reform) | set(baseline) if reform.get(path) != baseline.get(path)
    )


def full_path_reason(
    reform: Mapping[str, Any] | None,
    baseline: Mapping[str, Any] | None,
    structural: bool,
    reduce: bool = True,
) -> str | None:
    """Why a reform arm must be calculated in full, or None if a record can reduce it."""
    if not reduce:
        return REQUESTED
    if structural:
        return STRUCTURAL
    if any(path.startswith(BEHAVIOURAL) for path in changed_parameters(reform, baseline)):
        return BEHAVIOURAL_RESPONSES
    return None


def plan(
    record: DependencyRecord | None,
    reform: Mapping[str, Any] | None,
    baseline: Mapping[str, Any] | None,
    structural: bool,
) -> ReformArm:
    """The path of a reform arm over a baseline run that left `record` (None: untraced)."""
    changed = changed_parameters(reform, baseline)
    if not changed:
        return SAME_AS_BASELINE
    reason = full_path_reason(reform, baseline, structural)
    if reason is not None or record is None:
        return ReformArm(FULL, reason or REQUESTED)
    return ReformArm(REDUCED, affected=record.affected(changed))


def prefill(arm: ReformArm, record: DependencyRecord, baseline: Any, reform: Any) -> ReformArm:
    """Give `reform` the baseline's value of every unaffected variable it calculated."""
    reused = 0
    input_variables = set(reform.input_variables)
    for name, period in record.calculated:
        if name in arm.affected or name in input_variables:
            continue
        values = baseline.get_holder(name).get_array(period)
        if values is None:
            continue
        reform.get_holder(name).put_in_cache(values, period, derived=True)
        reused += 1
    return ReformArm(arm.path, arm.reason, arm.affected, reused)
