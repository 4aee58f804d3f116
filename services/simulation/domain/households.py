"""Household calculations: PolicyEngine household JSON checked, merged for a batch, split back.

Pure logic, no policyengine-us: services/simulation/domain/household_engine.py runs it.

A household is PolicyEngine's situation: `people` and the group entities
(`tax_units`, `families`, `spm_units`, `households`, `marital_units`), each a
mapping of ids to instances whose variables are keyed by period; a group
instance lists its `members`. `{"2026": null}` asks for a value.

Several households are calculated in one simulation side by side. That gives
each the results it gets alone only if nothing in the simulation mixes them:

- every person and group instance gets an explicit id prefixed by its household's
  position, and every group instance is declared, so policyengine-core creates none;
- a group entity a household leaves out is declared as policyengine-core would
  create it: one instance holding everyone;
- households merged together give inputs for exactly the same (variable, period)
  pairs: policyengine-core sets an input for a whole entity at once (people who
  did not give it get the default, not the formula) and uprates a variable from
  its known periods, so a household merged with others who give more inputs
  would not get what it gets alone (see `batch_key`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

PERSONS = "people"
GROUPS = ("tax_units", "families", "spm_units", "households", "marital_units")
# The singular key policyengine-core names the one instance it creates for a missing group.
GROUP_KEYS = {
    "tax_units": "tax_unit",
    "families": "family",
    "spm_units": "spm_unit",
    "households": "household",
    "marital_units": "marital_unit",
}
ENTITIES = (PERSONS, *GROUPS)
MEMBERS = "members"
AXES = "axes"

# Calculated when a request names no variables: net income, taxes, benefits, credits.
DEFAULT_VARIABLES: tuple[str, ...] = (
    "household_net_income",
    "household_market_income",
    "household_tax",
    "household_benefits",
    "income_tax",
    "employee_payroll_tax",
    "self_employment_tax",
    "state_income_tax",
    "eitc",
    "ctc",
    "refundable_ctc",
    "snap",
    "ssi",
    "tanf",
    "wic",
    "school_meal_net_subsidy",
)

_YEAR = re.compile(r"(?:^|:)(\d{4})(?:-|:|$)")


@dataclass(frozen=True)
class InvalidField:
    """One invalid part of a request: `field` is its path, e.g. `household.people.you.age`."""

    field: str
    message: str


class InvalidHousehold(Exception):
    """The request cannot be calculated; `errors` name the fields at fault."""

    def __init__(self, errors: Sequence[InvalidField]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = list(errors)


@dataclass(frozen=True)
class Wanted:
    """One value to calculate: `variable` of instance `instance` of `entity` in `period`."""

    entity: str
    instance: str
    variable: str
    period: str


@dataclass(frozen=True)
class HouseholdCalculation:
    """One household to calculate, as checked and completed for a simulation."""

    household: dict[str, Any]  # every group entity declared
    variables: tuple[str, ...]  # asked for by name (or the defaults), at `year`
    year: str
    alone: bool = False  # never merged with other households
    wanted: list[Wanted] = field(default_factory=list)


def structure_errors(household: Any) -> list[InvalidField]:
    """What is malformed in a household, before any variable name is looked up."""
    if not isinstance(household, dict):
        return [InvalidField("household", "must be an object")]
    errors = [
        InvalidField(f"household.{key}", f"unknown entity; expected one of {', '.join(ENTITIES)}")
        for key in household
        if key not in ENTITIES and key != AXES
    ]
    people = household.get(PERSONS)
    if not isinstance(people, dict) or not people:
        return [*errors, InvalidField("household.people", "must name at least one person")]
    for plural in ENTITIES:
        instances = household.get(plural)
        if instances is None and plural != PERSONS:
            continue
        if not isinstance(instances, dict):
            errors.append(InvalidField(f"household.{plural}", "must be an object of instances"))
            continue
        for instance_id, instance in instances.items():
            errors.extend(_instance_errors(plural, instance_id, instance, people))
    return errors + _membership_errors(household, people)


def _instance_errors(
    plural: str, instance_id: str, instance: Any, people: Mapping[str, Any]
) -> Iterator[InvalidField]:
    where = f"household.{plural}.{instance_id}"
    if not isinstance(instance, dict):
        yield InvalidField(where, "must be an object")
        return
    for name, values in instance.items():
        if plural != PERSONS and name == MEMBERS:
            if not isinstance(values, list) or not all(isinstance(p, str) for p in values):
                yield InvalidField(f"{where}.members", "must be a list of person ids")
            else:
                for position, person in enumerate(values):
                    if person not in people:
                        yield InvalidField(
                            f"{where}.members[{position}]", f"no person {person!r} in people"
                        )
        elif not isinstance(values, dict) or not values:
            yield InvalidField(
                f"{where}.{name}", 'must be an object keyed by period, e.g. {"2026": 40}'
            )
        else:
            for period in values:
                if _YEAR.search(str(period)) is None and str(period).upper() != "ETERNITY":
                    yield InvalidField(f"{where}.{name}.{period}", "is not a period")


def _membership_errors(household: dict[str, Any], people: Mapping[str, Any]) -> list[InvalidField]:
    errors: list[InvalidField] = []
    for plural in GROUPS:
        instances = household.get(plural)
        if not isinstance(instances, dict):
            continue
        seen: dict[str, str] = {}
        for instance_id, instance in instances.items():
            members = instance.get(MEMBERS, []) if isinstance(instance, dict) else []
            if not isinstance(members, list):
                continue
            for position, person in enumerate(members):
                if not isinstance(person, str):
                    continue  # _instance_errors names it; it cannot be looked up
                if person in seen and person in people:
                    errors.append(
                        InvalidField(
                            f"household.{plural}.{instance_id}.members[{position}]",
                            f"{person!r} is already a member of {seen[person]!r}",
                        )
                    )
                seen.setdefault(person, instance_id)
    return errors


def periods_of(household: Mapping[str, Any]) -> Iterator[str]:
    for plural in ENTITIES:
        for instance in (household.get(plural) or {}).values():
            for name, values in instance.items():
                if name != MEMBERS and isinstance(values, dict):
                    yield from (str(period) for period in values)


def calculation_year(household: Mapping[str, Any]) -> str:
    """The year named variables are calculated for: the latest the household names, else this."""
    years = [int(m.group(1)) for p in periods_of(household) if (m := _YEAR.search(p))]
    return str(max(years) if years else date.today().year)


def completed(household: dict[str, Any], variables: Sequence[str] | None) -> HouseholdCalculation:
    """The household with every group entity declared, ready to calculate.

    Raises InvalidHousehold when it is malformed.
    """
    errors = structure_errors(household)
    if errors:
        raise InvalidHousehold(errors)
    declared = copy.deepcopy(household)
    people = list(declared[PERSONS])
    alone = AXES in declared
    for plural in GROUPS:
        instances = declared.get(plural)
        if instances is None:
            declared[plural] = {GROUP_KEYS[plural]: {MEMBERS: list(people)}}
            continue
        allocated = {p for instance in instances.values() for p in instance.get(MEMBERS, [])}
        # policyengine-core gives each left-out person an instance of their own, in an
        # order that varies between processes: such a household is calculated alone.
        alone = alone or len(allocated) < len(people)
    return HouseholdCalculation(
        household=declared,
        variables=tuple(variables) if variables is not None else DEFAULT_VARIABLES,
        year=calculation_year(household),
        alone=alone,
    )


def wanted_values(calculation: HouseholdCalculation, entity_of: Mapping[str, str]) -> list[Wanted]:
    """Every value to calculate: the nulls in the household, and each named variable at the year.

    `entity_of` maps a variable to its entity's plural. A value given as an input is
    not calculated: the input is returned.
    """
    household = calculation.household
    wanted: dict[Wanted, None] = {}
    for plural in ENTITIES:
        for instance_id, instance in household.get(plural, {}).items():
            for name, values in instance.items():
                if name == MEMBERS or not isinstance(values, dict):
                    continue
                for period, value in values.items():
                    if value is None:
                        wanted[Wanted(plural, instance_id, name, str(period))] = None
    for variable in calculation.variables:
        plural = entity_of[variable]
        for instance_id, instance in household.get(plural, {}).items():
            given = instance.get(variable)
            if isinstance(given, dict) and calculation.year in given:
                continue
            wanted[Wanted(plural, instance_id, variable, calculation.year)] = None
    return list(wanted)


def batch_key(calculation: HouseholdCalculation, index: int) -> tuple[Any, ...]:
    """Households with equal keys may share a simulation (see the module's docstring)."""
    if calculation.alone:
        return ("alone", index)
    household = calculation.household
    given = frozenset(
        (name, str(period))
        for plural in ENTITIES
        for instance in household.get(plural, {}).values()
        for name, values in instance.items()
        if name != MEMBERS and isinstance(values, dict)
        for period, value in values.items()
        if value is not None
    )
    return ("together", given)


@dataclass(frozen=True)
class MergedSituation:
    """Several households as one situation, with where each instance of each went."""

    situation: dict[str, Any]
    # positions[entity][(household index, instance id)] = index in that entity's arrays
    positions: dict[str, dict[tuple[int, str], int]]


def prefixed(index: int, identifier: str) -> str:
    # Not "/": policyengine-core's error paths are "/"-separated.
    return f"h{index}:{identifier}"


def unprefixed(identifier: str) -> str:
    return re.sub(r"^h\d+:", "", identifier)


def merged(households: Sequence[Mapping[str, Any]]) -> MergedSituation:
    """One situation holding `households` side by side; each must be completed first."""
    situation: dict[str, Any] = {plural: {} for plural in ENTITIES}
    positions: dict[str, dict[tuple[int, str], int]] = {plural: {} for plural in ENTITIES}
    for index, household in enumerate(households):
        for plural in ENTITIES:
            for instance_id, instance in household[plural].items():
                copied = dict(instance)
                if plural != PERSONS:
                    copied[MEMBERS] = [prefixed(index, p) for p in instance.get(MEMBERS, [])]
                positions[plural][(index, instance_id)] = len(situation[plural])
                situation[plural][prefixed(index, instance_id)] = copied
    if len(households) == 1 and AXES in households[0]:
        # A household with axes is calculated alone; they name variables and periods.
        situation[AXES] = copy.deepcopy(households[0][AXES])
    return MergedSituation(situation, positions)


def filled(
    household: Mapping[str, Any], completed: Mapping[str, Any], values: Mapping[Wanted, Any]
) -> dict[str, Any]:
    """The household as asked, with the calculated values in place of the nulls and added.

    A group instance the household left out (`completed` declared it) is added with its members.
    """
    answer = copy.deepcopy(dict(household))
    for wanted, value in values.items():
        instances = answer.setdefault(wanted.entity, {})
        if wanted.instance not in instances:
            declared = completed[wanted.entity][wanted.instance]
            instances[wanted.instance] = {MEMBERS: list(declared.get(MEMBERS, []))}
        instance = instances[wanted.instance]
        slot = instance.get(wanted.variable)
        if not isinstance(slot, dict):
            slot = instance[wanted.variable] = {}
        slot[wanted.period] = value
    return answer
