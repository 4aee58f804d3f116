"""Population calculations on policyengine-us, with tax-benefit systems built once per process.

Building a policyengine-us tax-benefit system takes about 18 s, so a worker must never
build one per run:

- The baseline is `policyengine_us.system.system`, the current-law system that
  importing policyengine-us builds, and the one policyengine-us itself shares
  with every simulation built without a reform.
- A reformed system is built once, `CountryTaxBenefitSystem(reform=...)` exactly as
  `Microsimulation(reform=...)` builds it, and kept in an LRU keyed by
  `reform_hash`.

policyengine-core 3.33 takes a prebuilt system: `Microsimulation(tax_benefit_system=...)`.
With no `reform=` argument, policyengine-us (`SPMSimulationMixin._prepare_spm_system`)
gives the simulation a shallow copy of it through `share_spm_policy`: a private
variable registry, entities and SPM receipts, the same parameter tree and warm
parameter caches, copy-on-write should anything try to reform that tree. Nothing is
rebuilt or cloned per run, and the structural reforms each simulation re-applies
only rebind variables in its private registry.

What `Microsimulation(reform=...)` does besides building the system is give the
simulation `baseline`, a current-law arm over the same people: behavioural
responses are measured against it, and Medicaid's state cost denominator is held
at its value. This engine sets `baseline` to its own current-law simulation of the
same population, so a policy's results are those of `Microsimulation(reform=...)`
(tests/service/test_engine_fidelity.py checks them value for value).

`reform` and `baseline` are both whole policies relative to current law, in
PolicyEngine's reform format; None or {} is current law.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import importlib.metadata
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from contracts.results.v1 import (
    HOUSEHOLD_KEYS,
    HOUSEHOLD_VARIABLES,
    OPTIONAL_PERSON_KEYS,
    PERSON_VARIABLES,
    POLICIES,
    household_columns,
    person_columns,
    policy_column,
)
from shared.population import ENTITIES, GROUP_ENTITIES, Population

Reform = dict[str, dict[str, Any]]

# policyengine-us computes `race` from `cps_race` and `is_hispanic`, or takes it as given.
RACE_INPUTS = frozenset({"race", "cps_race"})


def reform_hash(data: Reform | None) -> str:
    """SHA-256 of the reform as compact JSON with sorted keys; None hashes as `null`."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class UnknownOutputs(ValueError):
    """A requested output is not a policyengine-us variable Fiscus can store per household."""


@dataclass(frozen=True)
class SimulationResults:
    # Columns contracts.results.v1.household_columns(), then the extra outputs per policy.
    households: pd.DataFrame
    # Columns contracts.results.v1.person_columns(), then `race` if the dataset has it.
    people: pd.DataFrame


def policyengine_frames(population: Population) -> dict[str, pd.DataFrame]:
    """The population's frames with text columns as numpy object arrays of `str`.

    policyengine-core needs plain `str` objects (a county FIPS in an Arrow string
    array is not one); the caller's frames are left as they are.
    """
    frames: dict[str, pd.DataFrame] = {}
    for entity in ENTITIES:
        frame = population[entity].copy(deep=False)
        for column in frame.columns:
            series = frame[column]
            if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
                frame[column] = series.astype(str).astype(object)
        frames[entity] = frame
    return frames


class PopulationEngine:
    """Runs populations under policies; one per process, not thread-safe."""

    def __init__(self, max_reformed_systems: int = 8) -> None:
        if max_reformed_systems < 1:
            raise ValueError("max_reformed_systems must be at least 1")
        # Importing policyengine-us builds the current-law system.
        import policyengine_us
        from policyengine_us.data.dataset_schema import USSingleYearDataset
        from policyengine_us.system import CountryTaxBenefitSystem, system

        self._microsimulation = policyengine_us.Microsimulation
        self._dataset_class = USSingleYearDataset
        self._system_class = CountryTaxBenefitSystem
        self._baseline_system: Any = system
        self._reformed: OrderedDict[str, Any] = OrderedDict()
        self._max_reformed_systems = max_reformed_systems
        self._model_version = importlib.metadata.version("policyengine-us")
        gc.collect()
        gc.freeze()

    @property
    def model_version(self) -> str:
        return self._model_version

    @property
    def systems_cached(self) -> int:
        """Tax-benefit systems held built: current law and the reforms kept (LRU)."""
        return 1 + len(self._reformed)

    def system_for(self, policy: Reform | None) -> Any:
        """The tax-benefit system of `policy`: built on first use, then kept (LRU)."""
        if not policy:
            return self._baseline_system
        key = reform_hash(policy)
        system = self._reformed.get(key)
        if system is not None:
            self._reformed.move_to_end(key)
            return system
        from policyengine_core.reforms import Reform as CoreReform

        # A path that names no parameter fails the build only after the 18 s it takes;
        # look each up first, as applying the reform would, and fail with its error now.
        for path in policy:
            self._baseline_system.parameters.get_child(path)
        # Reform.from_dict keeps the dict it is given and reads it when applied.
        reform = CoreReform.from_dict(copy.deepcopy(policy), country_id="us")
        system = self._system_class(reform=reform)
        self._reformed[key] = system
        if len(self._reformed) > self._max_reformed_systems:
            self._reformed.popitem(last=False)
            # Frozen objects are never collected: thaw so the evicted tree's cycles go.
            gc.unfreeze()
            gc.collect()
        gc.freeze()
        return system

    def run(
        self,
        population: Population,
        year: int,
        reform: Reform,
        baseline: Reform | None = None,
        outputs: Sequence[str] = (),
    ) -> SimulationResults:
        """Household and person results of `population` in `year` under baseline and reform.

        `outputs` names extra policyengine-us variables to store per household and policy
        (`<policy>_<variable>` after the standard columns; a person's or unit's value is
        summed over the household). An unknown name raises UnknownOutputs before anything
        is calculated. People carry `race` when the population gives it or its inputs.
        """
        extra = self.check_outputs(outputs)
        households, people = self._calculate(population, year, reform, baseline, extra)
        # The simulations are garbage now, in reference cycles: free them before the next run.
        gc.collect()
        extra_columns = [policy_column(p, v) for p in POLICIES for v in extra]
        race = [key for key in OPTIONAL_PERSON_KEYS if key in people]
        return SimulationResults(
            households=pd.DataFrame(households, columns=[*household_columns(), *extra_columns]),
            people=pd.DataFrame(people, columns=[*person_columns(), *race]),
        )

    def check_outputs(self, outputs: Sequence[str]) -> list[str]:
        """The extra outputs not already stored, in order; UnknownOutputs if any is unknown
        or cannot be summed to a household."""
        variables = self._baseline_system.variables
        unknown = sorted({name for name in outputs if name not in variables})
        if unknown:
            raise UnknownOutputs(f"unknown policyengine-us variables: {', '.join(unknown)}")
        unsummable = sorted(
            {
                name
                for name in outputs
                if variables[name].value_type not in (float, int, bool)
                and variables[name].entity.key != "household"
            }
        )
        if unsummable:
            raise UnknownOutputs(
                "outputs must be numbers or household variables (a person's or unit's "
                f"category cannot be summed to a household): {', '.join(unsummable)}"
            )
        stored = set(HOUSEHOLD_KEYS) | set(HOUSEHOLD_VARIABLES)
        return list(dict.fromkeys(name for name in outputs if name not in stored))

    def _calculate(
        self,
        population: Population,
        year: int,
        reform: Reform,
        baseline: Reform | None,
        outputs: Sequence[str] = (),
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        dataset = self._dataset_class(**policyengine_frames(population), time_period=year)
        current_law = self._simulation(dataset, year, None, None)
        baseline_simulation = (
            self._simulation(dataset, year, baseline, current_law) if baseline else current_law
        )
        reform_simulation = (
            baseline_simulation
            if reform_hash(reform or None) == reform_hash(baseline or None)
            else self._simulation(dataset, year, reform, current_law)
        )
        households = self._household_keys(baseline_simulation, year)
        people = self._person_keys(baseline_simulation, year)
        for policy, simulation in (
            ("baseline", baseline_simulation),
            ("reform", reform_simulation),
        ):
            for variable in HOUSEHOLD_VARIABLES:
                # Some are not household variables (household_state_income_tax is a
                # tax unit's): those are summed over each household's members.
                households[policy_column(policy, variable)] = self._values(
                    simulation, variable, year, map_to="household"
                )
            for variable in PERSON_VARIABLES:
                people[policy_column(policy, variable)] = self._values(
                    simulation, variable, year, map_to="person"
                )
            for variable in outputs:
                households[policy_column(policy, variable)] = self._output(
                    simulation, variable, year
                )
        if RACE_INPUTS & set(population["person"].columns):
            people["race"] = np.asarray(
                baseline_simulation.calculate("race", year, decode_enums=True, use_weights=False)
            ).astype(str)
        return households, people

    def _output(self, simulation: Any, variable: str, year: int) -> np.ndarray:
        definition = simulation.tax_benefit_system.variables[variable]
        if definition.value_type in (float, int, bool):
            return self._values(simulation, variable, year, map_to="household")
        values: np.ndarray = np.asarray(
            simulation.calculate(variable, year, decode_enums=True, use_weights=False)
        ).astype(str)
        return values

    def warm(self, year: int | None = None) -> None:
        """Calculate one household, so the year's parameters are cached before the first run."""
        year = year or date.today().year
        person = {"person_id": [1], **{f"person_{group}_id": [1] for group in GROUP_ENTITIES}}
        one_household: Population = {
            "person": pd.DataFrame({**person, "age": [40], "employment_income": [50_000.0]}),
            "household": pd.DataFrame(
                {
                    "household_id": [1],
                    "household_weight": [1.0],
                    "state_fips": [6],
                    "county_fips": ["06037"],
                }
            ),
            **{group: pd.DataFrame({f"{group}_id": [1]}) for group in GROUP_ENTITIES[1:]},
        }
        self.run(one_household, year, {})
        gc.collect()
        gc.freeze()

    def _simulation(self, dataset: Any, year: int, policy: Reform | None, current_law: Any) -> Any:
        simulation = self._microsimulation(
            dataset=dataset,
            dataset_end_year=year,
            tax_benefit_system=self.system_for(policy),
        )
        if policy:
            simulation.baseline = current_law
        return simulation

    @staticmethod
    def _values(simulation: Any, variable: str, year: int, map_to: str | None = None) -> np.ndarray:
        entity = simulation.tax_benefit_system.variables[variable].entity.key
        values: np.ndarray = np.asarray(
            simulation.calculate(
                variable, year, map_to=None if map_to == entity else map_to, use_weights=False
            )
        )
        return values

    def _household_keys(self, simulation: Any, year: int) -> dict[str, np.ndarray]:
        state_code = simulation.calculate("state_code", year, decode_enums=True, use_weights=False)
        return {
            "household_id": self._values(simulation, "household_id", year),
            "household_weight": self._values(simulation, "household_weight", year),
            "household_count_people": self._values(simulation, "household_count_people", year),
            "state_code": np.asarray(state_code).astype(str),
            "household_income_decile": self._values(simulation, "household_income_decile", year),
        }

    def _person_keys(self, simulation: Any, year: int) -> dict[str, np.ndarray]:
        return {
            "person_id": self._values(simulation, "person_id", year),
            "household_id": self._values(simulation, "household_id", year, map_to="person"),
            "person_weight": self._values(simulation, "person_weight", year),
            "age": self._values(simulation, "age", year),
            "is_male": self._values(simulation, "is_male", year),
        }
