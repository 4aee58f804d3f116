"""Population calculations on policyengine-us: a reform costs only what it changes.

A run is a baseline arm and a reform arm over the same population:

- Systems (`domain.systems`): current law is the system importing policyengine-us
  builds; a reform that only sets parameter values is current law with those
  parameters copied (milliseconds); a structural one is built in full (about 18 s).
  Each is kept in an LRU keyed by `reform_hash`.
- Baseline arm: calculated with a `DependencyTracer` that records what each variable
  read (`domain.dependencies`), or, given a `baseline_key` already in the baseline
  store, its values are restored from the kept snapshot (`domain.baselines`) and
  nothing is calculated again.
- Reform arm (`domain.reform_arm`): only the variables that read a changed parameter,
  or an affected variable, are calculated; every other value is the baseline's.
  Structural reforms and behavioural responses take the full path, and the results
  say which path ran and why.

policyengine-core 3.33 takes a prebuilt system: `Microsimulation(tax_benefit_system=...)`.
With no `reform=` argument, policyengine-us gives the simulation a shallow copy of it
(`share_spm_policy`): nothing is rebuilt or cloned per run. What
`Microsimulation(reform=...)` does besides building the system is give the
simulation `baseline`, a current-law arm over the same people: behavioural responses
are measured against it, and Medicaid's state cost denominator is held at its value.
This engine sets `baseline` to its own current-law simulation of the same population,
so a policy's results are those of `Microsimulation(reform=...)`
(tests/service/test_engine_fidelity.py checks them value for value, and
tests/service/test_reform_paths.py the reduced paths against the full computation,
bit for bit).

`reform` and `baseline` are both whole policies relative to current law, in
PolicyEngine's reform format; None or {} is current law.
"""

from __future__ import annotations

import gc
import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from contracts.results.v1 import (
    DISTRICT_INPUT,
    HOUSEHOLD_VARIABLES,
    OPTIONAL_HOUSEHOLD_KEYS,
    OPTIONAL_PERSON_KEYS,
    PERSON_VARIABLES,
    POLICIES,
    WEALTH_INPUT,
    household_columns,
    person_columns,
    policy_column,
)
from services.simulation.domain import baselines, reform_arm
from services.simulation.domain.baselines import BaselineStore
from services.simulation.domain.deciles import WEALTH, WEALTH_DECILE, wealth_deciles
from services.simulation.domain.dependencies import DependencyTracer, record_scale_reads
from services.simulation.domain.outputs import (
    ExtraColumns,
    UnknownOutputs,
    check_outputs,
    extra_columns,
)
from services.simulation.domain.reform_arm import ReformArm
from services.simulation.domain.systems import Reform, TaxBenefitSystems
from shared.population import ENTITIES, GROUP_ENTITIES, Population

# policyengine-us computes `race` from `cps_race` and `is_hispanic`, or takes it as given.
RACE_INPUTS = frozenset({"race", "cps_race"})
# Zero in an arm whose labour supply does not respond, as v1 reports them, instead of
# measuring responses policyengine-us would multiply by zero elasticities.
LSR_EFFECTS = frozenset({"income_elasticity_lsr", "substitution_elasticity_lsr"})


CALCULATED = "calculated"

__all__ = ["PopulationEngine", "SimulationResults", "UnknownOutputs"]


@dataclass(frozen=True)
class SimulationResults:
    # Columns contracts.results.v1.household_columns(), then the extra outputs per policy.
    households: pd.DataFrame
    # Columns contracts.results.v1.person_columns(), then `race` if the dataset has it.
    people: pd.DataFrame
    # Which path computed the reform arm, and why.
    reform_arm: ReformArm = reform_arm.SAME_AS_BASELINE
    # Where the baseline's values came from: calculated, or a kept snapshot's `memory`
    # or `storage`.
    baseline_source: str = CALCULATED


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

    def __init__(
        self,
        max_reformed_systems: int = 8,
        reduce_reform_arm: bool = True,
        parametric_systems: bool = True,
        baseline_store: BaselineStore | None = None,
    ) -> None:
        """`reduce_reform_arm=False` calculates every variable of every reform arm, and
        `parametric_systems=False` builds every reformed system in full: the reference
        computations the reduced paths are tested against. `baseline_store` keeps baseline
        runs for reuse by `run(..., baseline_key=...)`."""
        # Importing policyengine-us builds the current-law system.
        import policyengine_us
        from policyengine_us.data.dataset_schema import USSingleYearDataset

        self._microsimulation = policyengine_us.Microsimulation
        self._dataset_class = USSingleYearDataset
        self.systems = TaxBenefitSystems(max_reformed_systems, parametric_systems)
        self._reduce_reform_arm = reduce_reform_arm
        self._baseline_store = baseline_store
        record_scale_reads()
        self._model_version = importlib.metadata.version("policyengine-us")
        gc.collect()
        gc.freeze()

    @property
    def model_version(self) -> str:
        return self._model_version

    @property
    def systems_cached(self) -> int:
        """Tax-benefit systems held built: current law and the reforms kept (LRU)."""
        return len(self.systems)

    def system_for(self, policy: Reform | None) -> Any:
        """The tax-benefit system of `policy`: made on first use, then kept (LRU)."""
        return self.systems.system_for(policy)

    def run(
        self,
        population: Population,
        year: int,
        reform: Reform,
        baseline: Reform | None = None,
        outputs: Sequence[str] = (),
        baseline_key: str | None = None,
    ) -> SimulationResults:
        """Household and person results of `population` in `year` under baseline and reform.

        With a `baseline_key` (`domain.baselines.baseline_key`) and a baseline store, the
        baseline run kept under that key is reused, or this one is kept under it.

        `outputs` names extra policyengine-us variables to store per household and policy
        (`<policy>_<variable>` after the standard columns; a person's or unit's value is
        summed over the household). An unknown name raises UnknownOutputs before anything
        is calculated. People carry `race` when the population gives it or its inputs.
        """
        extra = self.check_outputs(outputs)
        columns = extra_columns(self.systems.current_law.variables, extra, reform, baseline)
        households, people, arm, source = self._calculate(
            population, year, reform, baseline, columns, baseline_key
        )
        # The simulations are garbage now, in reference cycles: free them before the next run.
        gc.collect()
        household_keys = [key for key in OPTIONAL_HOUSEHOLD_KEYS if key in households]
        person_keys = [key for key in OPTIONAL_PERSON_KEYS if key in people]
        household_extra = [policy_column(p, v) for p in POLICIES for v in columns.households]
        person_extra = [policy_column(p, v) for p in POLICIES for v in columns.people]
        return SimulationResults(
            households=pd.DataFrame(
                households, columns=[*household_columns(), *household_keys, *household_extra]
            ),
            people=pd.DataFrame(people, columns=[*person_columns(), *person_keys, *person_extra]),
            reform_arm=arm,
            baseline_source=source,
        )

    def check_outputs(self, outputs: Sequence[str]) -> list[str]:
        """The extra outputs not already stored, in order (`domain.outputs`)."""
        return check_outputs(self.systems.current_law.variables, outputs)

    def _calculate(
        self,
        population: Population,
        year: int,
        reform: Reform,
        baseline: Reform | None,
        outputs: ExtraColumns,
        baseline_key: str | None,
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], ReformArm, str]:
        dataset = self._dataset_class(**policyengine_frames(population), time_period=year)
        current_law = self._simulation(dataset, year, None, None)
        baseline_simulation = (
            self._simulation(dataset, year, baseline, current_law) if baseline else current_law
        )
        same = not reform_arm.changed_parameters(reform, baseline)
        structural = self.systems.is_structural(reform) or self.systems.is_structural(baseline)
        reducible = not same and (
            reform_arm.full_path_reason(reform, baseline, structural, self._reduce_reform_arm)
            is None
        )
        store = self._baseline_store if baseline_key else None
        kept = store.get(baseline_key) if store is not None and baseline_key else None
        source, record, tracer = CALCULATED, None, None
        if kept is not None:
            snapshot, source = kept
            record = snapshot.record
            baselines.restore(snapshot, baseline_simulation)
        elif reducible or store is not None:
            tracer = DependencyTracer()
            baseline_simulation.trace = True
            baseline_simulation.tracer = tracer
            # Prime the parameter tree with this tracer, not the one `trace` made.
            baseline_simulation._isolate_parameter_tracing()
        households = self._household_keys(baseline_simulation, year, population)
        people = self._person_keys(baseline_simulation, year)
        self._policy_values(households, people, "baseline", baseline_simulation, year, outputs)
        if RACE_INPUTS & set(population["person"].columns):
            people["race"] = np.asarray(
                baseline_simulation.calculate("race", year, decode_enums=True, use_weights=False)
            ).astype(str)
        if tracer is not None:
            record = tracer.record(baseline_simulation.tax_benefit_system)
            baseline_simulation.trace = False
            if store is not None and baseline_key:
                store.put(baseline_key, baselines.take(record, baseline_simulation))
        arm = reform_arm.plan(record if reducible else None, reform, baseline, structural)
        reform_simulation = baseline_simulation
        if not same:
            reform_simulation = self._simulation(dataset, year, reform, current_law)
            if arm.path == reform_arm.REDUCED and record is not None:
                arm = reform_arm.prefill(arm, record, baseline_simulation, reform_simulation)
        self._policy_values(households, people, "reform", reform_simulation, year, outputs)
        return households, people, arm, source

    def _policy_values(
        self,
        households: dict[str, np.ndarray],
        people: dict[str, np.ndarray],
        policy: str,
        simulation: Any,
        year: int,
        outputs: ExtraColumns,
    ) -> None:
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
        responds = bool(
            LSR_EFFECTS & {*outputs.households, *outputs.people}
            and np.any(self._values(simulation, "employment_income_behavioral_response", year))
        )
        for variable in outputs.households:
            households[policy_column(policy, variable)] = self._output(
                simulation, variable, year, responds, "household"
            )
        for variable in outputs.people:
            people[policy_column(policy, variable)] = self._output(
                simulation, variable, year, responds, "person"
            )

    def _output(
        self, simulation: Any, variable: str, year: int, responds: bool, entity: str
    ) -> np.ndarray:
        definition = simulation.tax_benefit_system.variables[variable]
        if variable in LSR_EFFECTS and not responds:
            size = simulation.populations[entity].count
            return np.zeros(size, dtype=definition.dtype)
        if definition.value_type in (float, int, bool):
            return self._values(simulation, variable, year, map_to=entity)
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

    def _household_keys(
        self, simulation: Any, year: int, population: Population
    ) -> dict[str, np.ndarray]:
        state_code = simulation.calculate("state_code", year, decode_enums=True, use_weights=False)
        keys = {
            "household_id": self._values(simulation, "household_id", year),
            "household_weight": self._values(simulation, "household_weight", year),
            "household_count_people": self._values(simulation, "household_count_people", year),
            "state_code": np.asarray(state_code).astype(str),
            "household_income_decile": self._values(simulation, "household_income_decile", year),
        }
        given = set(population["household"].columns)
        if WEALTH_INPUT in given:
            keys[WEALTH] = self._values(simulation, WEALTH_INPUT, year)
            keys[WEALTH_DECILE] = wealth_deciles(pd.DataFrame(keys))
        if DISTRICT_INPUT in given:
            keys[DISTRICT_INPUT] = self._values(simulation, DISTRICT_INPUT, year)
        return keys

    def _person_keys(self, simulation: Any, year: int) -> dict[str, np.ndarray]:
        return {
            "person_id": self._values(simulation, "person_id", year),
            "household_id": self._values(simulation, "household_id", year, map_to="person"),
            "person_weight": self._values(simulation, "person_weight", year),
            "age": self._values(simulation, "age", year),
            "is_male": self._values(simulation, "is_male", year),
        }
