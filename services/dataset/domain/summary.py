"""What a registered dataset says about the population it holds."""

from __future__ import annotations

from dataclasses import dataclass

from shared.population import Population
from shared.states import POSTAL_CODE_BY_FIPS


@dataclass(frozen=True)
class PopulationSummary:
    households: int
    people: int
    # Postal codes of the states with at least one household, sorted.
    states: tuple[str, ...]


def summarize(population: Population) -> PopulationSummary:
    """Counts and states of a population that passed validation."""
    household = population["household"]
    codes = {POSTAL_CODE_BY_FIPS[int(fips)] for fips in household["state_fips"].unique()}
    return PopulationSummary(
        households=len(household),
        people=len(population["person"]),
        states=tuple(sorted(codes)),
    )
