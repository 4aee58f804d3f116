"""policyengine-us run directly, with nothing of Fiscus in between: the reference."""

from __future__ import annotations

from typing import Any

import numpy as np

from shared.population import Population


def direct_simulations(
    population: Population, year: int, reform: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Plain baseline and reform `Microsimulation`s over the frames as storage returns them."""
    from policyengine_core.reforms import Reform
    from policyengine_us import Microsimulation
    from policyengine_us.data.dataset_schema import USSingleYearDataset

    def dataset() -> Any:
        return USSingleYearDataset(**population, time_period=year)

    return {
        "baseline": Microsimulation(dataset=dataset(), dataset_end_year=year),
        "reform": Microsimulation(
            dataset=dataset(),
            dataset_end_year=year,
            reform=Reform.from_dict(reform, country_id="us"),
        ),
    }


def calculated(simulation: Any, variable: str, year: int, map_to: str | None = None) -> Any:
    """A variable's unweighted values, as policyengine-us computes them."""
    return np.asarray(simulation.calculate(variable, year, map_to=map_to, use_weights=False))
