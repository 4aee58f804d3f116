"""Partitions: how one simulation is split into pieces any worker can take.

A partition is a group of whole states in one year. Households of different states
never share a tax unit, family or household, and policyengine-us computes each
household from its own members only, so the results of a partition are exactly the
rows the whole population would give for those households. The one population-wide
column, `household_income_decile`, is ranked again over every partition of the
year when the last one finishes (domain/deciles.py).

The planner is pure: per-state household counts and the costs of a run in,
partitions out. A run of n households costs about `fixed + n x per_household` seconds
(`PartitionCosts`, measured by benchmarks/partition_costs.py); a partition holds at
most `max_households` (the bound on a worker's memory). A year's households become

- at least ceil(households / max_households) partitions (memory), and
- more, up to the workers a year's partitions may keep busy (workers // years, at
  least 1), while each partition's per-household part is at least the fixed part:
  splitting costs every extra partition the fixed part again, and is worth it only
  when the time it saves is larger (a small job is one partition);
- when memory splits it, rounded up to a multiple of those workers (so that none
  idles in the last round) if the partitions are still worth their fixed part;
  never more than there are states.

States are grouped into that many partitions of similar household counts (largest
state first into the smallest group). A budget window repeats the plan for each year.
The plan depends only on the counts and the settings, never on the moment's load, so
a dataset's partitions, and with them its kept baselines (domain/baselines.py), are
the same from one simulation to the next.

A stored partition is a `Partition` (queued, running, done), moved by its simulation's
steps (domain/lifecycle.py); `years_to_rank` and `RankedFiles` say which partitions'
household files get their deciles ranked again, and whether a ranking still applies.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np

from services.simulation.domain.results import StoredResult
from services.simulation.domain.systems import Reform
from services.simulation.domain.transitions import IllegalTransition
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


@dataclass(frozen=True)
class PartitionCosts:
    """What the plan weighs: the fixed and per-household seconds of a run, the most
    households a partition may hold, and the workers that share the partitions."""

    fixed_seconds: float
    household_seconds: float
    max_households: int
    workers: int = 1

    def __post_init__(self) -> None:
        if self.max_households < 1:
            raise ValueError("max_households must be at least 1")
        if self.fixed_seconds <= 0 or self.household_seconds < 0 or self.workers < 1:
            raise ValueError("costs must be positive and workers at least 1")


def partition_count(households: int, states: int, years: int, costs: PartitionCosts) -> int:
    """How many partitions one year's `households` (in `states` states) become."""
    needed = math.ceil(households / costs.max_households)
    busy = max(1, costs.workers // max(1, years))
    worth = int(costs.household_seconds * households // costs.fixed_seconds)
    count = max(needed, min(busy, max(1, worth)))
    rounded = math.ceil(count / busy) * busy
    if needed > 1 and rounded <= worth:
        count = rounded
    return max(1, min(states, count))


def plan_partitions(
    households_by_state: Mapping[str, int], years: Sequence[int], costs: PartitionCosts
) -> list[PlannedPartition]:
    """The partitions of a simulation: per year, the states in `partition_count` groups.

    Indices run year by year: the first year's partitions first. States in a partition
    and partitions of a year are in a deterministic order, so a replanned simulation
    gets the same plan.
    """
    counts = {state: n for state, n in households_by_state.items() if n > 0}
    if not counts:
        raise NoHouseholds("the dataset has no households in the region")
    groups = group_states(
        counts, partition_count(sum(counts.values()), len(counts), len(years), costs)
    )
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


def group_states(counts: Mapping[str, int], groups: int) -> list[tuple[str, ...]]:
    """States in `groups` groups (at most one per state) of similar household counts.

    A state is never split: one larger than the others' share is a group of its own
    (with at most some small states beside it).
    """
    groups = max(1, min(len(counts), groups))
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


class PartitionStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


@dataclass(frozen=True)
class Partition:
    """One partition of a simulation as stored: its states, its progress, its files.

    Its steps (`start`, `finish`) are the simulation's (domain/lifecycle.py), which
    counts them.
    """

    simulation_id: str
    index: int
    year: int
    states: tuple[str, ...]
    households: int
    status: PartitionStatus = PartitionStatus.QUEUED
    attempts: int = 0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    results: tuple[StoredResult, ...] | None = None
    timings: Mapping[str, Any] | None = None

    @property
    def context(self) -> str:
        """How a failure's reason and the logs name the partition."""
        return f"partition {self.index} ({self.year}: {', '.join(self.states)})"

    @property
    def is_done(self) -> bool:
        return self.status is PartitionStatus.DONE

    def ranked(self, results: Sequence[StoredResult]) -> Partition:
        """This done partition with its files as ranking its year's deciles rewrote them."""
        if not self.is_done:
            raise IllegalTransition(f"{self.context} is {self.status}: its files are not final")
        return replace(self, results=tuple(results))


def years_to_rank(partitions: Sequence[Partition]) -> dict[int, list[Partition]]:
    """The years split over several partitions, each with its partitions in order: their
    deciles are ranked again over the whole year once every partition is done."""
    by_year: dict[int, list[Partition]] = {}
    for partition in sorted(partitions, key=lambda p: p.index):
        by_year.setdefault(partition.year, []).append(partition)
    return {year: by_year[year] for year in sorted(by_year) if len(by_year[year]) > 1}


@dataclass(frozen=True)
class RankedFiles:
    """The files of the partitions of years split in several, as ranking the years'
    deciles rewrote them (`ranked`), and the files the ranking read (`basis`), by index."""

    basis: Mapping[int, tuple[StoredResult, ...] | None]
    ranked: Mapping[int, tuple[StoredResult, ...]]

    def applied_to(self, partitions: Sequence[Partition]) -> list[Partition] | None:
        """The partitions, those ranked with their rewritten files; None when the ranking
        read other partitions or other files than these hold (it must be done again)."""
        to_rank = [p for of_year in years_to_rank(partitions).values() for p in of_year]
        if {p.index: p.results for p in to_rank} != dict(self.basis):
            return None
        return [p.ranked(self.ranked[p.index]) if p.index in self.ranked else p for p in partitions]
