"""policyengine-us run directly, with nothing of Fiscus in between: the reference.

`Microsimulation(reform=...)` and `Simulation(reform=...)` build the reformed
tax-benefit system themselves (about 18 s) through their class's
`default_tax_benefit_system`. The reference classes here are those classes with that
one factory memoised per reform for the test session, so each reform the tests compare
against is built once; everything else is policyengine-us's own path (the reform is
still applied to the simulation's system, and its baseline branch made, as a user's
`Microsimulation(reform=...)` does).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import numpy as np

from shared.population import Population

Reform = dict[str, dict[str, Any]]

_systems: dict[tuple[str, str, str], Any] = {}


def _reformed_system_factory(reform_json: str) -> Any:
    """`default_tax_benefit_system` for the reform `reform_json` names: built once per
    session (and SPM configuration and start instant), then handed out again."""

    def build(reform: Any = None, spm: Any = None, start_instant: Any = None) -> Any:
        from policyengine_us import CountryTaxBenefitSystem

        key = (reform_json, repr(spm), str(start_instant))
        if key not in _systems:
            _systems[key] = CountryTaxBenefitSystem(
                reform=reform, spm=spm, start_instant=start_instant
            )
        return _systems[key]

    return staticmethod(build)


@cache
def _reference_class(kind: str, reform_json: str) -> Any:
    import policyengine_us

    base = getattr(policyengine_us, kind)
    factory = _reformed_system_factory(reform_json)
    return type(f"Direct{kind}", (base,), {"default_tax_benefit_system": factory})


def direct_class(kind: str, reform: Reform | None) -> Any:
    """policyengine-us's `Microsimulation` or `Simulation` (`kind`), building `reform`'s
    system at most once per session."""
    import policyengine_us

    if not reform:
        return getattr(policyengine_us, kind)
    return _reference_class(kind, json.dumps(reform, sort_keys=True))


def core_reform(reform: Reform) -> Any:
    from policyengine_core.reforms import Reform as CoreReform

    return CoreReform.from_dict(json.loads(json.dumps(reform)), country_id="us")


def direct_simulations(population: Population, year: int, reform: Reform) -> dict[str, Any]:
    """Plain baseline and reform `Microsimulation`s over the frames as storage returns them."""
    from policyengine_us import Microsimulation
    from policyengine_us.data.dataset_schema import USSingleYearDataset

    def dataset() -> Any:
        return USSingleYearDataset(**population, time_period=year)

    return {
        "baseline": Microsimulation(dataset=dataset(), dataset_end_year=year),
        "reform": direct_class("Microsimulation", reform)(
            dataset=dataset(), dataset_end_year=year, reform=core_reform(reform)
        ),
    }


def direct_household(situation: dict[str, Any], reform: Reform | None = None) -> Any:
    """A plain `policyengine_us.Simulation` of one household situation."""
    return direct_class("Simulation", reform)(
        situation=situation, reform=core_reform(reform) if reform else None
    )


def calculated(simulation: Any, variable: str, year: int, map_to: str | None = None) -> Any:
    """A variable's unweighted values, as policyengine-us computes them."""
    return np.asarray(simulation.calculate(variable, year, map_to=map_to, use_weights=False))
