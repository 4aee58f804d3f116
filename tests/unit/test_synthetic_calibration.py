"""The bundled synthetic population meets every published total it is calibrated to.

The totals are checked on the default bundled size and seed, in 2024, the year the
targets are for, recomputed here from the frames (not from the generator's internals).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.dataset.domain.calibration import CalibrationError, Target, calibrate
from services.dataset.domain.datasets import DEFAULT_SYNTHETIC_HOUSEHOLDS
from services.dataset.domain.synthetic import generate_population
from services.dataset.domain.synthetic_geography import STATES_BY_FIPS
from services.dataset.domain.us_totals import (
    AGE_BANDS_2023,
    AGI_GROWTH_2021_TO_2024,
    BUSINESS_INCOME_2024,
    INCOME_BY_SOURCE_2024,
    RACE_SHARES_2023,
    RETURNS_BY_AGI_2021,
    STATE_POPULATIONS_2023,
    US_HOUSEHOLDS,
    US_POPULATION,
)
from shared.population import ENTITIES, Population, content_sha256, to_parquet_bytes

YEAR = 2024
# Soft targets are met this closely on the default size.
CLOSE = 0.005


@pytest.fixture(scope="module")
def population() -> Population:
    return generate_population(DEFAULT_SYNTHETIC_HOUSEHOLDS, seed=0, year=YEAR)


@pytest.fixture(scope="module")
def person(population: Population) -> pd.DataFrame:
    """Person rows with their household's weight and state."""
    household = population["household"].set_index("household_id")
    frame = population["person"].copy()
    frame["weight"] = frame["person_household_id"].map(household["household_weight"])
    frame["state"] = frame["person_household_id"].map(household["state_fips"])
    return frame


def test_published_populations_are_consistent() -> None:
    assert US_POPULATION == 334_914_895  # Census Vintage 2023, July 1, 2023
    assert len(STATE_POPULATIONS_2023) == 51
    assert sum(RACE_SHARES_2023.values()) == pytest.approx(1.0)


def test_weighted_households(population: Population) -> None:
    weight = population["household"]["household_weight"]
    assert (weight > 0).all()
    assert weight.sum() == pytest.approx(US_HOUSEHOLDS, rel=1e-9)


def test_weighted_people(person: pd.DataFrame) -> None:
    assert person["weight"].sum() == pytest.approx(US_POPULATION, rel=1e-9)


def test_state_populations(person: pd.DataFrame) -> None:
    by_state = person.groupby("state")["weight"].sum()
    assert len(by_state) == 51
    for fips, weighted in zip(by_state.index.to_list(), by_state.to_list(), strict=True):
        code = STATES_BY_FIPS[int(fips)].code
        assert weighted == pytest.approx(STATE_POPULATIONS_2023[code], rel=CLOSE), code


@pytest.mark.parametrize(("band", "published"), list(AGE_BANDS_2023.items()))
def test_age_bands(person: pd.DataFrame, band: tuple[int, int], published: int) -> None:
    low, high = band
    weighted = person.loc[person["age"].between(low, high - 1), "weight"].sum()
    assert weighted == pytest.approx(published, rel=CLOSE)


@pytest.mark.parametrize(("race", "share"), list(RACE_SHARES_2023.items()))
def test_race_shares(person: pd.DataFrame, race: str, share: float) -> None:
    names = np.where(
        person["is_hispanic"],
        "HISPANIC",
        person["cps_race"].map({1: "WHITE", 2: "BLACK", 4: "OTHER"}),
    )
    weighted = person.loc[names == race, "weight"].sum()
    assert weighted == pytest.approx(share * US_POPULATION, rel=CLOSE)


@pytest.mark.parametrize(("band", "published"), list(RETURNS_BY_AGI_2021.items()))
def test_tax_units_by_agi_band(
    person: pd.DataFrame, band: tuple[float, float], published: int
) -> None:
    # The generator's AGI approximation: income by source, half of Social Security.
    sources = [
        "employment_income",
        "self_employment_income",
        "partnership_income",
        "taxable_private_pension_income",
        "taxable_interest_income",
        "qualified_dividend_income",
        "long_term_capital_gains",
    ]
    social_security = person["social_security_retirement"] + person["social_security_disability"]
    person = person.assign(agi=person[sources].sum(axis=1) + 0.5 * social_security)
    units = person.groupby("person_tax_unit_id").agg(agi=("agi", "sum"), weight=("weight", "first"))
    in_2021_dollars = units["agi"] / AGI_GROWTH_2021_TO_2024
    low, high = band
    weighted = units.loc[(in_2021_dollars >= low) & (in_2021_dollars < high), "weight"].sum()
    # Whole-dollar rounding of the stored amounts may move a unit across a band edge.
    assert weighted == pytest.approx(published, rel=0.02)


@pytest.mark.parametrize(("source", "published"), list(INCOME_BY_SOURCE_2024.items()))
def test_income_by_source(person: pd.DataFrame, source: str, published: float) -> None:
    assert (person[source] * person["weight"]).sum() == pytest.approx(published, rel=CLOSE)


def test_business_income(person: pd.DataFrame) -> None:
    business = person["self_employment_income"] + person["partnership_income"]
    assert (business * person["weight"]).sum() == pytest.approx(BUSINESS_INCOME_2024, rel=CLOSE)


def test_the_default_population_is_the_same_bytes_every_time(population: Population) -> None:
    again = generate_population(DEFAULT_SYNTHETIC_HOUSEHOLDS, seed=0, year=YEAR)
    files = {entity: to_parquet_bytes(population[entity]) for entity in ENTITIES}
    assert files == {entity: to_parquet_bytes(again[entity]) for entity in ENTITIES}
    assert content_sha256(files) == content_sha256(
        {entity: to_parquet_bytes(again[entity]) for entity in ENTITIES}
    )


def test_weights_do_not_depend_on_the_year(population: Population) -> None:
    later = generate_population(DEFAULT_SYNTHETIC_HOUSEHOLDS, seed=0, year=YEAR + 1)
    pd.testing.assert_series_equal(
        population["household"]["household_weight"], later["household"]["household_weight"]
    )


def test_calibration_rakes_two_margins_like_iterative_proportional_fitting() -> None:
    # Four households in a 2 x 2 table (region by tenure), equal initial weights.
    region = np.array([1.0, 1.0, 0.0, 0.0])
    renter = np.array([1.0, 0.0, 1.0, 0.0])
    targets = [
        Target("households", np.ones(4), 100.0, hard=True),
        Target("region", region, 60.0, hard=True),
        Target("renters", renter, 30.0, hard=True),
    ]
    weights = calibrate(np.full(4, 25.0), targets)
    ipf = np.full(4, 25.0)
    for _ in range(200):
        for values, total in (
            (region, 60.0),
            (1 - region, 40.0),
            (renter, 30.0),
            (1 - renter, 70.0),
        ):
            ipf = np.where(values > 0, ipf * total / (values @ ipf), ipf)
    np.testing.assert_allclose(weights, ipf, rtol=1e-9)
    np.testing.assert_allclose(weights, [18.0, 42.0, 12.0, 28.0], rtol=1e-9)


def test_an_unreachable_soft_target_is_missed_without_wrecking_the_weights() -> None:
    targets = [
        Target("households", np.ones(3), 30.0, hard=True),
        Target("nobody has this", np.zeros(3), 5.0),
    ]
    np.testing.assert_allclose(calibrate(np.array([5.0, 10.0, 15.0]), targets), [5, 10, 15])


def test_impossible_hard_targets_are_refused() -> None:
    targets = [
        Target("households", np.ones(2), 10.0, hard=True),
        Target("people", np.array([2.0, 2.0]), 30.0, hard=True),  # 3 a household: impossible
    ]
    with pytest.raises(CalibrationError, match="people"):
        calibrate(np.array([5.0, 5.0]), targets)


@pytest.mark.parametrize("households", [40, 60, 80])
@pytest.mark.parametrize("seed", range(1, 9))
def test_small_populations_meet_the_hard_targets(households: int, seed: int) -> None:
    """Tiny samples, where Newton's line search can stop a hair (1e-10) short of the
    household and people totals (60 households, seed 1, did), still calibrate."""
    population = generate_population(households, seed=seed, year=2025)
    weights = population["household"]["household_weight"]
    assert weights.sum() == pytest.approx(US_HOUSEHOLDS, rel=1e-9)
