"""The built-in synthetic population: seeded, national, weighted, and well linked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from services.dataset.domain.synthetic import (
    US_HOUSEHOLDS,
    US_POPULATION,
    apportion,
    generate_population,
)
from services.dataset.domain.synthetic_geography import STATES
from services.dataset.domain.us_totals import (
    AGE_BANDS_2023,
    HOMEOWNERSHIP_RATE_2023,
    INCOME_BY_SOURCE_2024,
)
from shared.population import (
    ENTITIES,
    GROUP_ENTITIES,
    Population,
    content_sha256,
    read_population,
    to_parquet_bytes,
    write_population,
)

YEAR = 2025


def files_of(population: Population) -> dict[str, bytes]:
    return {entity: to_parquet_bytes(population[entity]) for entity in ENTITIES}


@pytest.fixture(scope="module")
def population() -> Population:
    return generate_population(600, seed=3, year=YEAR)


def test_same_seed_and_size_give_the_same_frames_bytes_and_hash(population: Population) -> None:
    again = generate_population(600, seed=3, year=YEAR)
    for entity in ENTITIES:
        pd.testing.assert_frame_equal(population[entity], again[entity])
    assert files_of(population) == files_of(again)
    assert content_sha256(files_of(population)) == content_sha256(files_of(again))


def test_another_seed_gives_another_population(population: Population) -> None:
    other = generate_population(600, seed=4, year=YEAR)
    assert content_sha256(files_of(other)) != content_sha256(files_of(population))
    assert not population["person"]["employment_income"].equals(
        other["person"]["employment_income"]
    )


def test_every_state_and_dc_appears_by_population_share(population: Population) -> None:
    counts = population["household"]["state_fips"].value_counts()
    assert set(counts.index) == {state.fips for state in STATES}
    assert len(STATES) == 51
    assert counts[6] > counts[48] > counts[36] > counts[56]  # CA > TX > NY > WY


def test_each_state_gets_a_household_once_there_are_51() -> None:
    household = generate_population(51, seed=1, year=YEAR)["household"]
    assert sorted(household["state_fips"]) == sorted(state.fips for state in STATES)


def test_few_households_go_to_the_largest_states() -> None:
    household = generate_population(3, seed=1, year=YEAR)["household"]
    assert sorted(household["state_fips"]) == [6, 12, 48]  # CA, FL, TX


def test_apportionment_is_exact() -> None:
    counts = apportion(10, np.array([1.0, 1.0, 1.0]))
    assert counts.tolist() == [4, 3, 3]


@pytest.mark.parametrize("households", [1, 60, 600, 5000])
def test_weights_scale_to_us_households_and_people(households: int) -> None:
    generated = generate_population(households, seed=9, year=YEAR)
    weight = generated["household"].set_index("household_id")["household_weight"]
    people = generated["person"]["person_household_id"].value_counts()
    assert (weight > 0).all()
    assert weight.sum() == pytest.approx(US_HOUSEHOLDS, rel=1e-9)
    if households > 1:
        assert (weight * people.reindex(weight.index)).sum() == pytest.approx(
            US_POPULATION, rel=1e-6
        )


def test_ids_are_unique_and_every_link_points_at_an_existing_non_empty_group(
    population: Population,
) -> None:
    person = population["person"]
    assert person["person_id"].is_unique
    for group in GROUP_ENTITIES:
        ids = population[group][f"{group}_id"]
        assert ids.is_unique
        links = person[f"person_{group}_id"]
        assert set(links) == set(ids)  # no dangling link, no empty group
    # Every group lies within one household.
    for group in ("tax_unit", "spm_unit", "family", "marital_unit"):
        households = person.groupby(f"person_{group}_id")["person_household_id"].nunique()
        assert (households == 1).all()


def test_tax_units_have_one_head_and_at_most_one_spouse(population: Population) -> None:
    person = population["person"]
    roles = person.groupby("person_tax_unit_id")["tax_unit_role_input"]
    assert (roles.apply(lambda r: (r == "HEAD").sum()) == 1).all()
    assert (roles.apply(lambda r: (r == "SPOUSE").sum()) <= 1).all()
    assert set(person["tax_unit_role_input"]) == {"HEAD", "SPOUSE", "DEPENDENT"}
    assert (person.groupby("person_marital_unit_id").size() <= 2).all()
    assert (person.groupby("person_household_id")["is_household_head"].sum() == 1).all()


def test_counties_are_five_digit_strings_in_their_state(population: Population) -> None:
    household = population["household"]
    counties = household["county_fips"].astype(str)
    assert counties.str.fullmatch(r"\d{5}").all()
    assert (counties.str[:2].astype(int) == household["state_fips"]).all()


def test_people_and_incomes_look_like_the_us(population: Population) -> None:
    person = population["person"]
    household = population["household"]
    weight = person["person_household_id"].map(
        household.set_index("household_id")["household_weight"]
    )
    assert person["age"].between(0, 95).all()
    assert (person["is_male"] == ~person["is_female"]).all()
    # Unweighted, a sample of 600 households has the published people per household
    # (2.55) within 10%; weighted, the shares by age are the published ones (calibrated).
    assert len(person) / len(household) == pytest.approx(US_POPULATION / US_HOUSEHOLDS, rel=0.1)
    children = weight[person["age"] < 18].sum() / weight.sum()
    seniors = weight[person["age"] >= 65].sum() / weight.sum()
    assert children == pytest.approx(AGE_BANDS_2023[(0, 18)] / US_POPULATION, rel=0.01)
    assert seniors == pytest.approx(AGE_BANDS_2023[(65, 200)] / US_POPULATION, rel=0.01)
    for column in (
        "employment_income",
        "taxable_private_pension_income",
        "social_security_retirement",
        "pre_subsidy_rent",
    ):
        assert (person[column] >= 0).all()
    # Calibrated to the 2024 total; in 2025 a few percent more (uprated), within 10%.
    wages = (person["employment_income"] * weight).sum()
    assert wages == pytest.approx(INCOME_BY_SOURCE_2024["employment_income"], rel=0.1)
    assert (person.loc[person["age"] < 62, "social_security_retirement"] == 0).all()
    assert (person["self_employment_income"] < 0).any()
    renting = (household["tenure_type"] == "RENTED").mean()
    assert renting == pytest.approx(1 - HOMEOWNERSHIP_RATE_2023, abs=0.1)


def test_amounts_grow_with_the_year_and_nothing_else_changes() -> None:
    earlier = generate_population(100, seed=2, year=2025)["person"]
    later = generate_population(100, seed=2, year=2030)["person"]
    assert later["employment_income"].sum() > 1.1 * earlier["employment_income"].sum()
    pd.testing.assert_series_equal(earlier["age"], later["age"])


def test_frames_survive_a_round_trip_through_storage(
    population: Population, tmp_path: Path
) -> None:
    write_population(f"file://{tmp_path}/synthetic", files_of(population))
    back = read_population(f"file://{tmp_path}/synthetic")
    for entity in ENTITIES:
        pd.testing.assert_frame_equal(
            back[entity], population[entity], check_dtype=False, check_index_type=False
        )
    assert content_sha256(files_of(back)) == content_sha256(files_of(population))
