"""A sound population, for the tests of the dataset service's rules and archives."""

from __future__ import annotations

import pandas as pd

from shared.population import Population


def sound_population() -> Population:
    """Two households: a couple in California with their child, a single in New York."""
    person = pd.DataFrame(
        {
            "person_id": [1, 2, 3, 4],
            "person_household_id": [10, 10, 10, 20],
            "person_tax_unit_id": [100, 100, 100, 200],
            "person_spm_unit_id": [1000, 1000, 1000, 2000],
            "person_family_id": [5, 5, 5, 6],
            "person_marital_unit_id": [50, 50, 51, 60],
            "age": [40, 38, 9, 70],
            "employment_income": [50_000.0, 20_000.0, 0.0, 0.0],
        }
    )
    return {
        "person": person,
        "household": pd.DataFrame(
            {"household_id": [10, 20], "household_weight": [1200.5, 800.0], "state_fips": [6, 36]}
        ),
        "tax_unit": pd.DataFrame({"tax_unit_id": [100, 200]}),
        "spm_unit": pd.DataFrame({"spm_unit_id": [1000, 2000]}),
        "family": pd.DataFrame({"family_id": [5, 6]}),
        "marital_unit": pd.DataFrame({"marital_unit_id": [50, 51, 60]}),
    }
