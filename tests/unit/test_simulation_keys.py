"""The content address of a simulation."""

from __future__ import annotations

import dataclasses

import pytest

from services.simulation.domain.keys import SimulationInputs, simulation_key

INPUTS = SimulationInputs(
    dataset_sha256="a" * 64,
    policy_sha256="b" * 64,
    baseline_policy_sha256=None,
    year=2026,
    region="us",
    model_version="2.68.0",
    result_format_version=1,
)


def test_equal_inputs_give_the_same_key() -> None:
    key = simulation_key(INPUTS)

    assert key == simulation_key(dataclasses.replace(INPUTS))
    assert len(key) == 64 and int(key, 16) >= 0


@pytest.mark.parametrize(
    "change",
    [
        {"dataset_sha256": "c" * 64},
        {"policy_sha256": "c" * 64},
        {"baseline_policy_sha256": "b" * 64},
        {"year": 2027},
        {"region": "CA"},
        {"years": (2026, 2027)},
        {"model_version": "2.69.0"},
        {"result_format_version": 2},
    ],
)
def test_every_input_is_part_of_the_key(change: dict[str, object]) -> None:
    assert simulation_key(dataclasses.replace(INPUTS, **change)) != simulation_key(INPUTS)  # type: ignore[arg-type]


def test_a_baseline_policy_differs_from_current_law_even_with_the_reforms_hash() -> None:
    against_itself = dataclasses.replace(INPUTS, baseline_policy_sha256=INPUTS.policy_sha256)

    assert simulation_key(against_itself) != simulation_key(INPUTS)


def test_fields_do_not_run_into_each_other() -> None:
    shifted = dataclasses.replace(INPUTS, dataset_sha256="a" * 63, policy_sha256="a" + "b" * 64)

    assert simulation_key(shifted) != simulation_key(INPUTS)


def test_a_one_year_key_is_the_same_with_or_without_its_window() -> None:
    # The key a one-year simulation had before budget windows existed.
    assert simulation_key(INPUTS) == simulation_key(dataclasses.replace(INPUTS, years=(2026,)))
    assert simulation_key(INPUTS) == (
        "afe1928067ccc3c888e7cb5e2c09b59c4c1f61f0ff2dcc35c8e300289911ffe4"
    )
