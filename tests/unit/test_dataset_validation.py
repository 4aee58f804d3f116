"""Each rule a population must meet before the dataset service registers it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.dataset.domain.summary import summarize
from services.dataset.domain.validation import required_columns, validate_population
from shared.population import ENTITIES, GROUP_ENTITIES, Population
from shared.problems import FieldError
from tests.unit.population_cases import sound_population


def errors_of(population: Population) -> list[tuple[str, str]]:
    return [(e.field, e.message) for e in validate_population(population)]


def only_error(population: Population) -> FieldError:
    errors = validate_population(population)
    assert len(errors) == 1, errors
    return errors[0]


def test_a_sound_population_passes_and_is_summarized() -> None:
    population = sound_population()
    assert validate_population(population) == []
    summary = summarize(population)
    assert (summary.households, summary.people, summary.states) == (2, 4, ("CA", "NY"))


def test_a_missing_entity_file_is_named() -> None:
    population = sound_population()
    del population["family"]
    assert errors_of(population) == [("family.parquet", "missing file")]


@pytest.mark.parametrize(
    ("entity", "column"),
    [(entity, column) for entity in ENTITIES for column in required_columns(entity)],
)
def test_each_required_column_must_be_present(entity: str, column: str) -> None:
    population = sound_population()
    population[entity] = population[entity].drop(columns=[column])
    errors = errors_of(population)
    assert (f"{entity}.parquet", f"missing column {column}") in errors
    # The checks that need the column are skipped rather than failing in its wake.
    assert len(errors) == 1, errors


def test_ids_must_be_numeric() -> None:
    population = sound_population()
    population["household"]["household_id"] = ["a", "b"]
    error = only_error(population)
    assert error.field == "household.parquet"
    assert error.message.startswith("column household_id must be numeric")


def test_links_must_be_numeric() -> None:
    population = sound_population()
    population["person"]["person_tax_unit_id"] = ["x", "x", "x", "y"]
    error = only_error(population)
    assert error.field == "person.parquet"
    assert error.message.startswith("column person_tax_unit_id must be numeric")


def test_booleans_are_not_ids() -> None:
    population = sound_population()
    population["tax_unit"]["tax_unit_id"] = [True, False]
    assert only_error(population).message.startswith("column tax_unit_id must be numeric")


def test_weights_must_be_numeric() -> None:
    population = sound_population()
    population["household"]["household_weight"] = ["heavy", "light"]
    error = only_error(population)
    assert (error.field, error.message) == (
        "household.parquet",
        f"column household_weight must be numeric, found "
        f"{population['household']['household_weight'].dtype}",
    )


def test_ids_must_not_be_missing() -> None:
    population = sound_population()
    population["family"]["family_id"] = [5.0, np.nan]
    error = only_error(population)
    assert error == FieldError(
        field="family.parquet", message="column family_id has 1 row with missing or NaN values"
    )


def test_ids_must_be_whole_numbers() -> None:
    population = sound_population()
    population["spm_unit"]["spm_unit_id"] = [1000.0, 2000.5]
    population["person"]["person_spm_unit_id"] = [1000.0, 1000.0, 1000.0, 2000.5]
    errors = errors_of(population)
    assert (
        "spm_unit.parquet",
        "column spm_unit_id must hold whole numbers, found 2000.5",
    ) in errors
    assert (
        "person.parquet",
        "column person_spm_unit_id must hold whole numbers, found 2000.5",
    ) in (errors)


def test_integral_float_ids_are_accepted() -> None:
    population = sound_population()
    population["family"]["family_id"] = [5.0, 6.0]
    assert validate_population(population) == []


def test_ids_must_be_unique() -> None:
    population = sound_population()
    population["person"]["person_id"] = [1, 2, 2, 4]
    assert only_error(population) == FieldError(
        field="person.parquet", message="duplicate person_id values: 2"
    )


def test_a_person_must_point_at_an_existing_group() -> None:
    population = sound_population()
    population["person"]["person_tax_unit_id"] = [100, 100, 100, 999]
    errors = errors_of(population)
    assert (
        "person.parquet",
        "person_tax_unit_id refers to tax_unit ids missing from tax_unit.parquet: 999",
    ) in errors
    # Tax unit 200 has lost its only member.
    assert (
        "tax_unit.parquet",
        "tax_unit_id values with no member in person.parquet: 200",
    ) in errors
    assert len(errors) == 2


@pytest.mark.parametrize("group", GROUP_ENTITIES)
def test_every_group_must_have_a_member(group: str) -> None:
    population = sound_population()
    extra = population[group].iloc[[0]].copy()
    extra[f"{group}_id"] = 777
    population[group] = pd.concat([population[group], extra], ignore_index=True)
    assert only_error(population) == FieldError(
        field=f"{group}.parquet", message=f"{group}_id values with no member in person.parquet: 777"
    )


def test_a_group_may_not_span_households() -> None:
    population = sound_population()
    population["person"]["person_family_id"] = [5, 5, 6, 6]
    assert only_error(population) == FieldError(
        field="family.parquet",
        message="family_id values whose members live in different households: 6",
    )


@pytest.mark.parametrize(
    ("weights", "problem"),
    [
        ([1.0, -3.0], "has 1 row with negative weights"),
        ([np.nan, np.nan], "has 2 rows with missing or NaN values"),
        ([np.inf, 1.0], "has 1 row with infinite values"),
    ],
)
def test_household_weights_must_be_finite_and_not_negative(
    weights: list[float], problem: str
) -> None:
    population = sound_population()
    population["household"]["household_weight"] = weights
    assert only_error(population) == FieldError(
        field="household.parquet", message=f"column household_weight {problem}"
    )


def test_zero_weights_are_accepted() -> None:
    population = sound_population()
    population["household"]["household_weight"] = [0.0, 0.0]
    assert validate_population(population) == []


def test_other_weight_columns_are_checked_too() -> None:
    population = sound_population()
    population["person"]["person_weight"] = [1.0, 1.0, -1.0, 1.0]
    assert only_error(population) == FieldError(
        field="person.parquet", message="column person_weight has 1 row with negative weights"
    )


def test_state_fips_must_name_a_state() -> None:
    population = sound_population()
    population["household"]["state_fips"] = [6, 99]
    assert only_error(population) == FieldError(
        field="household.parquet",
        message="column state_fips has codes that are not US states: 99",
    )


def test_a_file_without_rows_is_refused() -> None:
    population = sound_population()
    population["marital_unit"] = population["marital_unit"].iloc[0:0]
    errors = errors_of(population)
    assert ("marital_unit.parquet", "has no rows") in errors


def test_duplicate_column_names_are_refused() -> None:
    population = sound_population()
    frame = population["tax_unit"]
    population["tax_unit"] = pd.concat([frame, frame["tax_unit_id"]], axis=1)
    errors = errors_of(population)
    assert ("tax_unit.parquet", "duplicate columns: tax_unit_id") in errors


def test_long_lists_of_offending_values_are_shortened() -> None:
    population = sound_population()
    population["household"] = pd.DataFrame(
        {
            "household_id": [10, 20, *range(30, 100, 10)],
            "household_weight": 1.0,
            "state_fips": 6,
        }
    )
    message = only_error(population).message
    assert (
        message
        == "household_id values with no member in person.parquet: 30, 40, 50, 60, 70 and 2 more"
    )
