"""Checks that six entity frames form a population policyengine-us can simulate.

Pure: frames in, a list of problems out, each naming the file it is about. Later
checks only look at columns that passed the earlier ones, so one broken column
yields one clear problem rather than a cascade.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from services.dataset.domain.variables import catalog, column_entity
from shared.population import ENTITIES, GROUP_ENTITIES, Population, file_name
from shared.problems import FieldError
from shared.states import POSTAL_CODE_BY_FIPS

SAMPLE_SIZE = 5
# Names the part of an upload an entity's frame came from, for the problem's `field`.
Naming = Callable[[str], str]


def id_column(entity: str) -> str:
    return f"{entity}_id"


def link_column(group: str) -> str:
    """The person column naming the `group` instance a person belongs to."""
    return f"person_{group}_id"


def required_columns(entity: str) -> tuple[str, ...]:
    if entity == "person":
        return (id_column("person"), *(link_column(group) for group in GROUP_ENTITIES))
    if entity == "household":
        return (id_column("household"), "household_weight", "state_fips")
    return (id_column(entity),)


def validate_population(population: Population, naming: Naming = file_name) -> list[FieldError]:
    """Every problem that stops `population` from being registered; empty when it is sound.

    `naming` names where each entity's frame came from (its Parquet file by default).
    """
    errors: list[FieldError] = []
    usable: dict[str, set[str]] = {}
    for entity in ENTITIES:
        frame = population.get(entity)
        if frame is None:
            errors.append(FieldError(field=naming(entity), message="missing file"))
            continue
        _check_variables(entity, frame, naming, errors)
        usable[entity] = _check_columns(entity, frame, naming(entity), errors)
    for entity, columns in usable.items():
        frame = population[entity]
        ids = id_column(entity)
        if ids in columns:
            _check_unique(entity, frame[ids], naming, errors)
    if "household" in usable and "state_fips" in usable["household"]:
        _check_state_fips(population["household"]["state_fips"], naming, errors)
    if "person" in usable:
        _check_links(population, usable, naming, errors)
    return errors


def _check_variables(
    entity: str, frame: pd.DataFrame, naming: Naming, errors: list[FieldError]
) -> None:
    """Every column is a policyengine-us variable of this entity (or an id or link).

    policyengine-core would skip an unknown column without a word, so a misspelt input
    would silently be zero; a variable of another entity would not fit its rows.
    """
    unknown: list[str] = []
    for column in map(str, frame.columns):
        owner = column_entity(column)
        if owner is None:
            unknown.append(column)
        elif owner != entity:
            errors.append(
                FieldError(
                    field=naming(entity),
                    message=f"column {column} is a {owner} variable: put it in {naming(owner)}",
                )
            )
    if unknown:
        version = catalog().model_version
        errors.append(
            FieldError(
                field=naming(entity),
                message=f"columns that are not policyengine-us {version} variables: "
                f"{_sample(sorted(unknown))}",
            )
        )


def _check_columns(
    entity: str, frame: pd.DataFrame, where: str, errors: list[FieldError]
) -> set[str]:
    """Presence, type and values of the required columns; returns those that passed."""
    if len(frame) == 0:
        errors.append(FieldError(field=where, message="has no rows"))
    duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicated:
        errors.append(FieldError(field=where, message=f"duplicate columns: {_sample(duplicated)}"))
    usable: set[str] = set()
    weight_columns = [c for c in frame.columns if str(c).endswith("_weight")]
    for column in dict.fromkeys([*required_columns(entity), *map(str, weight_columns)]):
        if column not in frame.columns:
            errors.append(FieldError(field=where, message=f"missing column {column}"))
            continue
        if column in duplicated:
            continue
        problem = _value_problem(column, frame[column])
        if problem is None:
            usable.add(column)
        else:
            errors.append(FieldError(field=where, message=problem))
    return usable


def _value_problem(column: str, values: pd.Series) -> str | None:
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return f"column {column} must be numeric, found {values.dtype}"
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = int(np.isnan(numbers).sum())
    if missing:
        return f"column {column} has {_rows(missing)} with missing or NaN values"
    infinite = int(np.isinf(numbers).sum())
    if infinite:
        return f"column {column} has {_rows(infinite)} with infinite values"
    if column.endswith("_weight"):
        negative = int((numbers < 0).sum())
        if negative:
            return f"column {column} has {_rows(negative)} with negative weights"
        return None
    fractional = numbers[numbers != np.floor(numbers)]
    if len(fractional):
        return f"column {column} must hold whole numbers, found {_sample(fractional)}"
    return None


def _check_unique(entity: str, ids: pd.Series, naming: Naming, errors: list[FieldError]) -> None:
    repeated = ids[ids.duplicated()].unique()
    if len(repeated):
        errors.append(
            FieldError(
                field=naming(entity),
                message=f"duplicate {id_column(entity)} values: {_sample(repeated)}",
            )
        )


def _check_state_fips(codes: pd.Series, naming: Naming, errors: list[FieldError]) -> None:
    unknown = codes[~codes.isin(list(POSTAL_CODE_BY_FIPS))].unique()
    if len(unknown):
        errors.append(
            FieldError(
                field=naming("household"),
                message=f"column state_fips has codes that are not US states: {_sample(unknown)}",
            )
        )


def _check_links(
    population: Population, usable: dict[str, set[str]], naming: Naming, errors: list[FieldError]
) -> None:
    """Every person belongs to existing groups; every group has people in one household."""
    person = population["person"]
    household_link = link_column("household")
    for group in GROUP_ENTITIES:
        link, ids = link_column(group), id_column(group)
        if link not in usable["person"] or ids not in usable.get(group, set()):
            continue
        members = person[link]
        known = population[group][ids]
        dangling = members[~members.isin(known)].unique()
        if len(dangling):
            errors.append(
                FieldError(
                    field=naming("person"),
                    message=f"{link} refers to {group} ids missing from "
                    f"{naming(group)}: {_sample(dangling)}",
                )
            )
        empty = known[~known.isin(members)].unique()
        if len(empty):
            errors.append(
                FieldError(
                    field=naming(group),
                    message=f"{ids} values with no member in {naming('person')}: {_sample(empty)}",
                )
            )
        if group != "household" and household_link in usable["person"]:
            spread = person.groupby(link, sort=True)[household_link].nunique()
            split = spread[spread > 1].index
            if len(split):
                errors.append(
                    FieldError(
                        field=naming(group),
                        message=f"{ids} values whose members live in different households: "
                        f"{_sample(split)}",
                    )
                )


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _sample(values: Iterable[object]) -> str:
    shown = [_plain(value) for value in values]
    text = ", ".join(shown[:SAMPLE_SIZE])
    if len(shown) > SAMPLE_SIZE:
        text += f" and {len(shown) - SAMPLE_SIZE} more"
    return text


def _plain(value: object) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)
