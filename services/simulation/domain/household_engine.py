"""Household calculations on policyengine-us, several households to one simulation.

The tax-benefit systems come from a `SystemSource` (the worker's PopulationEngine:
the baseline built at import, reformed systems in an LRU keyed by the policy's
hash), so a calculation never builds a system it has built before.

A batch is split by policy and by `households.batch_key`; each part is one
`policyengine_us.Simulation`. Should a merged simulation fail, its households are
calculated one by one, so that one household's bad input fails only that household.
"""

from __future__ import annotations

import copy
import gc
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from services.simulation.domain.households import (
    AXES,
    ENTITIES,
    MEMBERS,
    PERSONS,
    HouseholdCalculation,
    InvalidField,
    InvalidHousehold,
    Wanted,
    batch_key,
    completed,
    filled,
    merged,
    unprefixed,
    wanted_values,
)

log = logging.getLogger(__name__)

Reform = dict[str, dict[str, Any]]


class SystemSource(Protocol):
    """Tax-benefit systems by policy (services.simulation.domain.engine.PopulationEngine)."""

    @property
    def model_version(self) -> str: ...

    def system_for(self, policy: Reform | None) -> Any: ...


@dataclass(frozen=True)
class HouseholdRequest:
    """A household as the client sent it, and the variables it names (None: the defaults)."""

    household: Any
    variables: list[str] | None = None


@dataclass(frozen=True)
class HouseholdOutcome:
    """The calculated household, or why it could not be calculated (status 422 or 500)."""

    household: dict[str, Any] | None = None
    errors: list[InvalidField] = field(default_factory=list)
    status: int = 200


class CalculationFailed(Exception):
    def __init__(self, wanted: Wanted, error: Exception) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.wanted = wanted
        self.error = error


# Errors of a household's own making, as policyengine-core raises them.
INPUT_ERRORS: tuple[type[Exception], ...] = (ValueError, TypeError, KeyError, LookupError)


class HouseholdEngine:
    """Calculates households; one per process, not thread-safe."""

    def __init__(self, systems: SystemSource) -> None:
        import policyengine_us
        from policyengine_core import periods
        from policyengine_core.enums import EnumArray
        from policyengine_core.errors import SituationParsingError

        self._systems = systems
        self._simulation_class = policyengine_us.Simulation
        self._period = periods.period
        self._enum_array = EnumArray
        self._parsing_error = SituationParsingError

    @property
    def model_version(self) -> str:
        return self._systems.model_version

    def calculate(
        self, requests: Sequence[HouseholdRequest], policy: Reform | None
    ) -> list[HouseholdOutcome]:
        """Each request's outcome, in order, all under `policy` (None or {}: current law)."""
        try:
            system = self._systems.system_for(policy or None)
        except Exception as exc:
            log.info("invalid reform", exc_info=True)
            error = InvalidField("policy", f"not a valid reform: {type(exc).__name__}: {exc}")
            return [HouseholdOutcome(errors=[error], status=422) for _ in requests]
        outcomes: list[HouseholdOutcome | None] = [None] * len(requests)
        groups: dict[tuple[Any, ...], list[tuple[int, HouseholdCalculation]]] = defaultdict(list)
        for index, request in enumerate(requests):
            try:
                calculation = self._checked(request, system)
            except InvalidHousehold as exc:
                outcomes[index] = HouseholdOutcome(errors=exc.errors, status=422)
                continue
            groups[batch_key(calculation, index)].append((index, calculation))
        for members in groups.values():
            for index, outcome in self._calculated_group(members, requests, system, policy):
                outcomes[index] = outcome
        return [outcome or HouseholdOutcome(status=500) for outcome in outcomes]

    def _checked(self, request: HouseholdRequest, system: Any) -> HouseholdCalculation:
        """The completed household; InvalidHousehold names unknown variables and bad periods."""
        calculation = completed(request.household, request.variables)
        errors: list[InvalidField] = []
        entity_of: dict[str, str] = {}
        for position, name in enumerate(calculation.variables):
            variable = system.variables.get(name) if isinstance(name, str) else None
            if variable is None:
                errors.append(InvalidField(f"variables[{position}]", f"unknown variable {name!r}"))
            else:
                entity_of[name] = variable.entity.plural
        for plural in ENTITIES:
            for instance_id, instance in request.household.get(plural, {}).items():
                for name, values in instance.items():
                    if plural != PERSONS and name == MEMBERS:
                        continue
                    errors.extend(self._variable_errors(system, plural, instance_id, name, values))
        if errors:
            raise InvalidHousehold(errors)
        return HouseholdCalculation(
            household=calculation.household,
            variables=calculation.variables,
            year=calculation.year,
            alone=calculation.alone,
            wanted=wanted_values(calculation, entity_of),
        )

    def _variable_errors(
        self, system: Any, plural: str, instance_id: str, name: str, values: dict[str, Any]
    ) -> list[InvalidField]:
        where = f"household.{plural}.{instance_id}.{name}"
        variable = system.variables.get(name)
        if variable is None:
            return [InvalidField(where, f"unknown variable {name!r}")]
        if variable.entity.plural != plural:
            return [InvalidField(where, f"{name} is a variable of {variable.entity.plural}")]
        errors: list[InvalidField] = []
        for period in values:
            try:
                self._period(period)
            except ValueError as exc:
                errors.append(InvalidField(f"{where}.{period}", f"not a period: {exc}"))
        return errors

    def _calculated_group(
        self,
        members: list[tuple[int, HouseholdCalculation]],
        requests: Sequence[HouseholdRequest],
        system: Any,
        policy: Reform | None,
    ) -> list[tuple[int, HouseholdOutcome]]:
        calculations = [calculation for _, calculation in members]
        if len(members) > 1:
            try:
                values = self._values(calculations, system, policy)
            except Exception:
                log.info("a merged household simulation failed; calculating one by one")
            else:
                return [
                    (index, self._outcome(requests[index], calculation, found))
                    for (index, calculation), found in zip(members, values, strict=True)
                ]
        results = []
        for index, calculation in members:
            try:
                (found,) = self._values([calculation], system, policy)
            except Exception as exc:
                results.append((index, self._failure(requests[index], calculation, exc)))
            else:
                results.append((index, self._outcome(requests[index], calculation, found)))
        return results

    def _outcome(
        self, request: HouseholdRequest, calculation: HouseholdCalculation, found: dict[Wanted, Any]
    ) -> HouseholdOutcome:
        return HouseholdOutcome(household=filled(request.household, calculation.household, found))

    def _failure(
        self, request: HouseholdRequest, calculation: HouseholdCalculation, exc: Exception
    ) -> HouseholdOutcome:
        if isinstance(exc, self._parsing_error):
            return HouseholdOutcome(errors=[_parsing_error_field(exc.error)], status=422)
        if isinstance(exc, CalculationFailed):
            wanted = exc.wanted
            if wanted.variable in calculation.variables and request.variables is not None:
                where = f"variables[{calculation.variables.index(wanted.variable)}]"
            else:
                where = f"household.{wanted.entity}.{wanted.instance}.{wanted.variable}"
            status = 422 if isinstance(exc.error, INPUT_ERRORS) else 500
            message = f"cannot be calculated for {wanted.period}: {exc}"[:500]
            return HouseholdOutcome(errors=[InvalidField(where, message)], status=status)
        status = 422 if isinstance(exc, INPUT_ERRORS) else 500
        message = f"{type(exc).__name__}: {exc}"[:500]
        return HouseholdOutcome(errors=[InvalidField("household", message)], status=status)

    def _values(
        self, calculations: Sequence[HouseholdCalculation], system: Any, policy: Reform | None
    ) -> list[dict[Wanted, Any]]:
        """Every wanted value of each household, from one simulation of them all."""
        situation = merged([c.household for c in calculations])
        simulation = self._simulation(situation.situation, system, policy)
        arrays: dict[tuple[str, str], list[Any]] = {}
        found: list[dict[Wanted, Any]] = []
        for index, calculation in enumerate(calculations):
            values: dict[Wanted, Any] = {}
            for wanted in calculation.wanted:
                key = (wanted.variable, wanted.period)
                if key not in arrays:
                    try:
                        arrays[key] = self._calculated(simulation, *key)
                    except Exception as exc:
                        raise CalculationFailed(wanted, exc) from exc
                position = situation.positions[wanted.entity][(index, wanted.instance)]
                if AXES in calculation.household:
                    # policyengine-core repeats the instances once per point of the axes
                    # (all of them, then all again): v1 answers the instance's list.
                    instances = len(situation.situation[wanted.entity])
                    values[wanted] = arrays[key][position::instances]
                else:
                    values[wanted] = arrays[key][position]
            found.append(values)
        return found

    def _simulation(self, situation: dict[str, Any], system: Any, policy: Reform | None) -> Any:
        simulation = self._simulation_class(situation=situation, tax_benefit_system=system)
        if policy:
            # As policyengine_us.Simulation(reform=...) and the population engine do: a
            # current-law arm over the same people, for what is measured against it.
            simulation.baseline = self._simulation_class(
                situation=situation, tax_benefit_system=self._systems.system_for(None)
            )
        return simulation

    def _calculated(self, simulation: Any, variable: str, period: str) -> list[Any]:
        values = simulation.calculate(variable, period)
        if isinstance(values, self._enum_array):
            values = values.decode_to_str()
        listed: list[Any] = values.tolist()
        return listed


def _parsing_error_field(error: Any) -> InvalidField:
    """`household.people.you.age` and the message, from policyengine-core's nested error."""
    parts: list[str] = []
    node: Any = error
    while isinstance(node, dict) and len(node) == 1:
        ((key, node),) = node.items()
        parts.append(unprefixed(str(key)) if len(parts) == 1 else str(key))
    where = ".".join(["household", *parts])
    return InvalidField(where, str(node)[:500])


WARM_HOUSEHOLD: dict[str, Any] = {
    "people": {
        "adult": {"age": {}, "employment_income": {}},
        "child": {"age": {}},
    },
    "households": {"home": {"members": ["adult", "child"], "state_code": {}}},
}


def warmed(engine: HouseholdEngine, year: int | None = None) -> HouseholdEngine:
    """The engine after one household's default variables, so the year's parameters are cached.

    The objects built so far live as long as the process: frozen, the collector skips them.
    """
    period = str(year or date.today().year)
    household = copy.deepcopy(WARM_HOUSEHOLD)
    household["people"]["adult"].update(age={period: 40}, employment_income={period: 30_000})
    household["people"]["child"]["age"] = {period: 4}
    household["households"]["home"]["state_code"] = {period: "TX"}
    (outcome,) = engine.calculate([HouseholdRequest(household)], None)
    if outcome.household is None:
        raise RuntimeError(f"the warm-up household failed: {outcome.errors}")
    gc.collect()
    gc.freeze()
    return engine
