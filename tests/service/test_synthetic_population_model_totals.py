"""policyengine-us on the default bundled population lands near the published program totals.

The population is calibrated to inputs (people, incomes); these are outputs the model
computes from them, checked against what was actually collected and paid in FY2024.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from services.dataset.domain.datasets import DEFAULT_SYNTHETIC_HOUSEHOLDS
from services.dataset.domain.synthetic import generate_population
from services.dataset.domain.us_totals import INCOME_TAX_FY2024, SNAP_BENEFITS_FY2024
from services.simulation.domain.engine import PopulationEngine, policyengine_frames

pytestmark = pytest.mark.slow

YEAR = 2024
WITHIN = 0.10


@pytest.fixture(scope="module")
def baseline(population_engine: PopulationEngine) -> tuple[Any, np.ndarray]:
    """Current law on the default population, straight on policyengine-us, and the weights."""
    from policyengine_us import Microsimulation
    from policyengine_us.data.dataset_schema import USSingleYearDataset

    started = time.monotonic()
    population = generate_population(DEFAULT_SYNTHETIC_HOUSEHOLDS, seed=0, year=YEAR)
    dataset = USSingleYearDataset(**policyengine_frames(population), time_period=YEAR)
    simulation = Microsimulation(
        dataset=dataset,
        dataset_end_year=YEAR,
        tax_benefit_system=population_engine.system_for(None),
    )
    simulation.calculate("income_tax", YEAR)
    simulation.calculate("snap", YEAR)
    print(f"\ndefault population, baseline {YEAR}: {time.monotonic() - started:.0f} s")
    return simulation, population["household"]["household_weight"].to_numpy()


def weighted_total(baseline: tuple[Any, np.ndarray], variable: str) -> float:
    simulation, weight = baseline
    values = simulation.calculate(variable, YEAR, map_to="household", use_weights=False)
    return float(np.asarray(values) @ weight)


def test_federal_income_tax_is_within_ten_percent_of_fy2024_receipts(
    baseline: tuple[Any, np.ndarray],
) -> None:
    income_tax = weighted_total(baseline, "income_tax")
    print(f"income tax ${income_tax / 1e9:,.1f} B against ${INCOME_TAX_FY2024 / 1e9:,.1f} B")
    assert income_tax == pytest.approx(INCOME_TAX_FY2024, rel=WITHIN)


def test_snap_is_within_ten_percent_of_fy2024_benefits(baseline: tuple[Any, np.ndarray]) -> None:
    snap = weighted_total(baseline, "snap")
    print(f"SNAP ${snap / 1e9:,.1f} B against ${SNAP_BENEFITS_FY2024 / 1e9:,.1f} B")
    assert snap == pytest.approx(SNAP_BENEFITS_FY2024, rel=WITHIN)
