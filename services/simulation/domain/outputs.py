"""Which variables a run stores besides the standard result columns.

A simulation may ask for extra policyengine-us variables (`outputs`): each is stored per
household and policy (a person's or unit's value summed over the household), and a
person's variable also per person, so that person-weighted figures (v1's cliff share)
are exact. A run where either policy sets labour-supply elasticities also stores the
labour-supply columns the report's `labor_supply_response` reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contracts.results.v1 import (
    HOUSEHOLD_KEYS,
    HOUSEHOLD_VARIABLES,
    LABOR_SUPPLY_HOUSEHOLD_VARIABLES,
    LABOR_SUPPLY_PARAMETERS,
    LABOR_SUPPLY_PERSON_VARIABLES,
    PERSON_VARIABLES,
)


class UnknownOutputs(ValueError):
    """A requested output is not a policyengine-us variable Fiscus can store per household."""


@dataclass(frozen=True)
class ExtraColumns:
    """Variables stored per policy after the standard columns of each results file."""

    households: tuple[str, ...] = ()
    people: tuple[str, ...] = ()


def check_outputs(variables: Mapping[str, Any], outputs: Sequence[str]) -> list[str]:
    """The extra outputs not already stored, in order; UnknownOutputs if any is unknown
    or cannot be summed to a household. `variables` is a tax-benefit system's."""
    unknown = sorted({name for name in outputs if name not in variables})
    if unknown:
        raise UnknownOutputs(f"unknown policyengine-us variables: {', '.join(unknown)}")
    unsummable = sorted(
        {
            name
            for name in outputs
            if variables[name].value_type not in (float, int, bool)
            and variables[name].entity.key != "household"
        }
    )
    if unsummable:
        raise UnknownOutputs(
            "outputs must be numbers or household variables (a person's or unit's "
            f"category cannot be summed to a household): {', '.join(unsummable)}"
        )
    stored = set(HOUSEHOLD_KEYS) | set(HOUSEHOLD_VARIABLES)
    return list(dict.fromkeys(name for name in outputs if name not in stored))


def sets_labor_supply_responses(*policies: Mapping[str, Any] | None) -> bool:
    """Whether any of the policies sets a labour-supply response parameter."""
    return any(
        path.startswith(LABOR_SUPPLY_PARAMETERS) for policy in policies for path in policy or {}
    )


def extra_columns(
    variables: Mapping[str, Any],
    outputs: Sequence[str],
    reform: Mapping[str, Any] | None,
    baseline: Mapping[str, Any] | None,
) -> ExtraColumns:
    """The variables stored per policy besides the standard ones, for checked `outputs`."""
    households = list(outputs)
    people = [name for name in outputs if variables[name].entity.key == "person"]
    if sets_labor_supply_responses(reform, baseline):
        households += LABOR_SUPPLY_HOUSEHOLD_VARIABLES
        people += LABOR_SUPPLY_PERSON_VARIABLES
    stored = set(HOUSEHOLD_KEYS) | set(HOUSEHOLD_VARIABLES)
    return ExtraColumns(
        households=tuple(dict.fromkeys(name for name in households if name not in stored)),
        people=tuple(dict.fromkeys(name for name in people if name not in PERSON_VARIABLES)),
    )
