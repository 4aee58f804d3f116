"""The partition planner, partitions' households, and deciles ranked over partitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from microdf import MicroSeries  # type: ignore[import-untyped]

from services.simulation.domain.deciles import (
    DECILE,
    WEALTH_DECILE,
    deciles_in_dataset_order,
    income_deciles,
    wealth_deciles,
)
from services.simulation.domain.partitions import (
    NoHouseholds,
    PartitionCosts,
    group_states,
    households_by_state,
    in_region,
    partition_count,
    plan_partitions,
    population_of_states,
)
from shared.population import ENTITIES
from shared.states import POSTAL_CODE_BY_FIPS

COUNTS = {"CA": 4000, "TX": 3000, "NY": 2000, "FL": 2000, "WY": 60, "VT": 50, "DC": 40}


def sized(max_households: int) -> PartitionCosts:
    """Costs under which only the memory bound splits a job (one worker)."""
    return PartitionCosts(fixed_seconds=20.0, household_seconds=0.01, max_households=max_households)


def test_a_small_job_is_one_partition_per_year() -> None:
    plan = plan_partitions(COUNTS, [2026], sized(100_000))

    assert len(plan) == 1
    assert plan[0].states == tuple(sorted(COUNTS))
    assert (plan[0].index, plan[0].year, plan[0].households) == (0, 2026, sum(COUNTS.values()))


def test_states_are_grouped_into_partitions_of_similar_size() -> None:
    plan = plan_partitions(COUNTS, [2026], sized(4000))

    sizes = [p.households for p in plan]
    assert len(plan) == 3  # ceil(11,150 / 4,000)
    assert sorted(sizes) == [3150, 4000, 4000]  # the most even split without splitting states
    states = [state for p in plan for state in p.states]
    assert sorted(states) == sorted(COUNTS)  # every state once, none split
    assert [p.index for p in plan] == [0, 1, 2]


def test_a_state_larger_than_the_others_share_is_never_split() -> None:
    groups = group_states({"CA": 10_000, "WY": 10}, 2)

    assert groups == [("CA",), ("WY",)]
    assert group_states({"CA": 10_000, "WY": 10}, 5) == groups  # at most one per state


def test_the_plan_is_deterministic_and_repeated_for_each_year() -> None:
    reordered = dict(reversed(list(COUNTS.items())))
    plan = plan_partitions(COUNTS, [2025, 2026, 2027], sized(4000))

    assert plan == plan_partitions(reordered, [2025, 2026, 2027], sized(4000))
    assert [p.year for p in plan] == [2025] * 3 + [2026] * 3 + [2027] * 3
    assert [p.index for p in plan] == list(range(9))
    assert [p.states for p in plan[:3]] == [p.states for p in plan[3:6]]


def test_a_plan_needs_households_and_sensible_costs() -> None:
    with pytest.raises(NoHouseholds):
        plan_partitions({}, [2026], sized(10))
    with pytest.raises(NoHouseholds):
        plan_partitions({"CA": 0}, [2026], sized(10))
    with pytest.raises(ValueError, match="max_households"):
        sized(0)
    with pytest.raises(ValueError, match="workers"):
        PartitionCosts(fixed_seconds=20.0, household_seconds=0.01, max_households=10, workers=0)


TWO_WORKERS = PartitionCosts(
    fixed_seconds=20.0, household_seconds=0.01, max_households=25_000, workers=2
)


@pytest.mark.parametrize(
    ("households", "years", "expected"),
    [
        (40, 1, 1),  # a small job: splitting would cost more than it saves
        (3_999, 1, 1),  # half of it costs 19.995 s per household, less than the fixed 20 s
        (4_000, 1, 2),  # from here each half's households cost at least the fixed part
        (20_000, 1, 2),  # more partitions than workers would only add fixed parts
        (30_000, 1, 2),  # memory wants 2 (25,000 at most): already both workers
        (60_000, 1, 4),  # memory wants 3: rounded up so that no worker idles at the end
        (20_000, 2, 1),  # two years keep both workers busy without splitting a year
        (60_000, 3, 3),  # memory alone, three years already busy both workers
    ],
)
def test_partitions_are_sized_by_cost_memory_and_workers(
    households: int, years: int, expected: int
) -> None:
    assert partition_count(households, 51, years, TWO_WORKERS) == expected


def test_a_split_forced_by_memory_is_rounded_up_only_when_worth_it() -> None:
    small = PartitionCosts(
        fixed_seconds=20.0, household_seconds=0.01, max_households=100, workers=2
    )
    assert partition_count(300, 51, 1, small) == 3  # 4 would each cost 0.75 s + 20 s fixed


def test_never_more_partitions_than_states() -> None:
    assert partition_count(100_000, 1, 1, TWO_WORKERS) == 1
    plan = plan_partitions({"CA": 60_000, "TX": 10}, [2026], TWO_WORKERS)
    assert [p.states for p in plan] == [("CA",), ("TX",)]


def test_households_are_counted_per_state_and_filtered_by_region() -> None:
    counts = households_by_state(np.array([6, 6, 48, 11]), POSTAL_CODE_BY_FIPS)

    assert counts == {"CA": 2, "TX": 1, "DC": 1}
    assert in_region(counts, "us") == counts
    assert in_region(counts, "TX") == {"TX": 1}
    assert in_region(counts, "NY") == {}


def population() -> dict[str, pd.DataFrame]:
    """Three households: CA (2 people), TX (1), CA (1)."""
    person_ids = [1, 2, 3, 4]
    frames = {
        "person": pd.DataFrame(
            {
                "person_id": person_ids,
                "person_household_id": [10, 10, 20, 30],
                "person_tax_unit_id": [100, 100, 200, 300],
                "person_spm_unit_id": [10, 10, 20, 30],
                "person_family_id": [10, 10, 20, 30],
                "person_marital_unit_id": [1, 2, 3, 4],
                "age": [40, 8, 70, 30],
            }
        ),
        "household": pd.DataFrame({"household_id": [10, 20, 30], "state_fips": [6, 48, 6]}),
        "tax_unit": pd.DataFrame({"tax_unit_id": [100, 200, 300]}),
        "spm_unit": pd.DataFrame({"spm_unit_id": [10, 20, 30]}),
        "family": pd.DataFrame({"family_id": [10, 20, 30]}),
        "marital_unit": pd.DataFrame({"marital_unit_id": [1, 2, 3, 4]}),
    }
    return frames


def test_a_partition_holds_its_states_households_with_their_people_and_units() -> None:
    subset = population_of_states(population(), {6})

    assert set(subset) == set(ENTITIES)
    assert subset["household"]["household_id"].tolist() == [10, 30]
    assert subset["person"]["person_id"].tolist() == [1, 2, 4]
    assert subset["tax_unit"]["tax_unit_id"].tolist() == [100, 300]
    assert subset["marital_unit"]["marital_unit_id"].tolist() == [1, 2, 4]
    assert population_of_states(population(), {48})["person"]["age"].tolist() == [70]


def households(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "household_id": np.arange(1, n + 1),
            "household_weight": rng.uniform(50, 500, n).astype(np.float32),
            "household_count_people": rng.integers(1, 6, n).astype(np.int32),
            # Ties (zero incomes) and negative incomes, as real results have.
            "baseline_household_net_income": np.where(
                rng.random(n) < 0.1, 0.0, rng.normal(60_000, 40_000, n)
            ).astype(np.float32),
            "household_income_decile": np.zeros(n, dtype=np.int32),
        }
    )


@pytest.mark.filterwarnings("ignore:Accessing .values on a MicroSeries")
def test_deciles_follow_policyengine_us_formula() -> None:
    frame = households(500)

    deciles = income_deciles(frame)

    income = frame["baseline_household_net_income"].to_numpy()
    weights = frame["household_weight"].to_numpy() * frame["household_count_people"].to_numpy()
    expected = np.where(income < 0, -1, MicroSeries(income, weights=weights).decile_rank().values)
    np.testing.assert_array_equal(deciles, expected)
    assert deciles.dtype == np.int32
    assert set(np.unique(deciles)) <= {-1, *range(1, 11)}


def test_deciles_over_shuffled_partitions_equal_those_of_the_whole() -> None:
    whole = households(500, seed=1)
    expected = income_deciles(whole)
    order = np.random.default_rng(2).permutation(len(whole))
    shuffled = whole.iloc[order].reset_index(drop=True)

    deciles = deciles_in_dataset_order(shuffled, whole["household_id"].to_numpy())

    assert list(deciles) == [DECILE]
    np.testing.assert_array_equal(deciles[DECILE], expected[order])


def with_net_worth(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    # Debts (negative), ties at zero and a long right tail, as survey wealth has.
    worth = np.where(rng.random(len(frame)) < 0.15, 0.0, rng.lognormal(11, 1.5, len(frame)))
    worth[rng.random(len(frame)) < 0.1] *= -0.2
    return frame.assign(household_net_worth=worth.astype(np.float32))


@pytest.mark.filterwarnings("ignore:Accessing .values on a MicroSeries")
def test_wealth_deciles_follow_v1s_formula() -> None:
    frame = with_net_worth(households(500, seed=3), seed=4)

    deciles = wealth_deciles(frame)

    weights = frame["household_weight"].to_numpy() * frame["household_count_people"].to_numpy()
    ranked = MicroSeries(frame["household_net_worth"].to_numpy(), weights=weights).decile_rank()
    np.testing.assert_array_equal(deciles, ranked.clip(1, 10).astype(int).values)
    assert set(np.unique(deciles)) <= set(range(1, 11))


def test_wealth_deciles_over_shuffled_partitions_equal_those_of_the_whole() -> None:
    whole = with_net_worth(households(500, seed=5), seed=6)
    order = np.random.default_rng(7).permutation(len(whole))
    shuffled = whole.iloc[order].reset_index(drop=True)

    deciles = deciles_in_dataset_order(shuffled, whole["household_id"].to_numpy())

    np.testing.assert_array_equal(deciles[WEALTH_DECILE], wealth_deciles(whole)[order])
    np.testing.assert_array_equal(deciles[DECILE], income_deciles(whole)[order])


def test_deciles_refuse_households_the_dataset_does_not_hold() -> None:
    with pytest.raises(ValueError, match="households the dataset does not"):
        deciles_in_dataset_order(households(3), np.array([1, 2]))
