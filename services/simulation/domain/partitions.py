"""Partitions: how one simulation is split into pieces any worker can take.

A partition is a group of whole states in one year. Households of different states
never share a tax unit, family or household, and policyengine-us computes each
household from its own members only, so the results of a partition are exactly the
rows the whole population would give for those households. The one population-wide
column, `household_income_decile`, is ranked again over every partition of the
year when the last one finishes (domain/deciles.py).

The planner is pure: per-state household counts in, partitions out. It groups
states into partitions of about `target_households` households each (largest state
first into the smallest group), so partitions take similar times; a job no larger
than the target is one partition. A budget window repeats the plan for each year.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from services.simulation.domain.systems import Reform
from shared.population import GROUP_ENTITIES, Population


@dataclass(frozen=True)
class PlannedPartition:
    """One partition of a simulation's plan."""

    index: int
    year: int
    states: tuple[str, ...]
    households: int


class NoHouseholds(ValueError):
    """The region asked for has no household in the dataset."""


def plan_partitions(
    households_by_state: Mapping[str, int], years: Sequence[int], target_households: int
) -> list[PlannedPartition]:
    """The partitions of a simulation: per year, states grouped to about the target size.

    Indices run year by year: the first year's partitions first. States in a partition
    and partitions of a year are in a deterministic order, so a replanned simulation
    gets the same plan.
    """
    if target_households < 1:
        raise ValueError("target_households must be at least 1")
    counts = {state: n for state, n in households_by_state.items() if n > 0}
    if not counts:
        raise NoHouseholds("the dataset has no households in the region")
    groups = group_states(counts, target_households)
    plan: list[PlannedPartition] = []
    for year in years:
        for states in groups:
            plan.append(
                PlannedPartition(
                    index=len(plan),
                    year=year,
                    states=states,
                    households=sum(counts[state] for state in states),
                )
            )
    return plan


def group_states(counts: Mapping[str, int], target_households: int) -> list[tuple[str, ...]]:
    """States in ceil(total / target) groups of similar household counts.

    A state is never split: one larger than the target is a group of its own (with
    at most some small states beside it).
    """
    total = sum(counts.values())
    groups = min(len(counts), max(1, math.ceil(total / target_households)))
    # Largest first, each into the group with the fewest households so far
    # (ties: the lower group index); ties between states by postal code.
    heap: list[tuple[int, int]] = [(0, group) for group in range(groups)]
    members: list[list[str]] = [[] for _ in range(groups)]
    for state in sorted(counts, key=lambda s: (-counts[s], s)):
        size, group = heapq.heappop(heap)
        members[group].append(state)
        heapq.heappush(heap, (size + counts[state], group))
    return sorted((tuple(sorted(states)) for states in members), key=lambda g: g[0])


def households_by_state(state_fips: np.ndarray, postal_codes: Mapping[int, str]) -> dict[str, int]:
    """Household counts per postal code from a dataset's `state_fips` column."""
    codes, counts = np.unique(np.asarray(state_fips, dtype=np.int64), return_counts=True)
    return {postal_codes[int(code)]: int(n) for code, n in zip(codes, counts, strict=True)}


def in_region(counts: Mapping[str, int], region: str) -> dict[str, int]:
    """The counts of the region's states: every state for `us`, else the one state."""
    if region == "us":
        return dict(counts)
    return {region: counts[region]} if counts.get(region, 0) > 0 else {}


def population_of_states(population: Population, state_fips: set[int]) -> Population:
    """The households of the given states with their people and group units, order kept."""
    household = population["household"]
    kept = household[household["state_fips"].isin(state_fips)]
    person = population["person"]
    people = person[person["person_household_id"].isin(kept["household_id"])]
    subset: Population = {"household": kept.reset_index(drop=True)}
    subset["person"] = people.reset_index(drop=True)
    for group in GROUP_ENTITIES:
        if group == "household":
            continue
        frame = population[group]
        members = people[f"person_{group}_id"]
        subset[group] = frame[frame[f"{group}_id"].isin(members)].reset_index(drop=True)
    return subset


@dataclass(frozen=True)
class PartitionJob:
    """A started partition with everything its calculation needs."""

    simulation_id: str
    partition: int
    year: int
    states: tuple[str, ...]
    households: int
    whole_dataset: bool
    storage_uri: str
    dataset_sha256: str
    reform: Reform
    baseline: Reform | None
    outputs: tuple[str, ...] = ()

    @property
    def population_part(self) -> str:
        """The population this partition computes, as a baseline run's key names it."""
        return "all" if self.whole_dataset else "states:" + ",".join(sorted(self.states))

    @property
    def context(self) -> str:
        return f"partition {self.partition} ({self.year}: {', '.join(self.states)})"
