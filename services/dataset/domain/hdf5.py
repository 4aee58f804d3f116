"""PolicyEngine's HDF5 datasets read into the six entity frames.

Two layouts are read:
- entity tables, as `USSingleYearDataset.save()` writes them (`/<entity>/table`, and
  `/_time_period`) and `USMultiYearDataset.save()` (`/<entity>/<year>/table`): pandas
  tables stored with every column a data column;
- variable arrays, as policyengine-us-data publishes its datasets
  (`/<variable>/<year>`, or `/<variable>` alone), the entities given by the `*_id`
  and `person_*_id` arrays.

The file is untrusted, so it is read with h5py alone: PyTables and pandas would
unpickle attributes and object arrays, which runs code a file names. Only hard-linked
groups and datasets are followed (a soft or external link could point outside the
file), external and virtual datasets are refused, and every dataset's declared size
counts against the limit before it is read, so a compressed dataset expands to at most
the limit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import IO, Any, Literal

import h5py
import numpy as np
import pandas as pd

from services.dataset.domain.frames import reason_of, typed
from services.dataset.domain.variables import column_entity
from shared.population import ENTITIES, Population
from shared.problems import FieldError

SIGNATURE = b"\x89HDF\r\n\x1a\n"
Layout = Literal["h5-entity-tables", "h5-variable-arrays"]
ENTITY_TABLES: Layout = "h5-entity-tables"
VARIABLE_ARRAYS: Layout = "h5-variable-arrays"
UPLOAD_FIELD = "file"
YEAR_FIELD = "body.year"
YEAR = re.compile(r"^\d{4}$")
# pandas' own column beside a table's data columns; USSingleYearDataset.load skips it.
TABLE_INDEX = "index"
# What h5py raises on a damaged file: a broken header or shape can also overflow.
UNREADABLE_HDF5 = (
    OSError,
    ValueError,
    KeyError,
    TypeError,
    RuntimeError,
    IndexError,
    ArithmeticError,
)


def is_hdf5(head: bytes) -> bool:
    return head.startswith(SIGNATURE)


@dataclass
class Hdf5Content:
    """The frames read from a file, its layout and year, or the problems that stopped it."""

    population: Population = field(default_factory=dict)
    layout: Layout = ENTITY_TABLES
    year: int | None = None
    errors: list[FieldError] = field(default_factory=list)
    # A multi-year file's group of the year read (`/2025`), after each entity's name.
    year_group: str = ""

    def naming(self, entity: str) -> str:
        """Where an entity's frame came from, for problems found later in it."""
        if self.layout == VARIABLE_ARRAYS:
            return f"{UPLOAD_FIELD} ({entity} variables)"
        return f"{UPLOAD_FIELD}:/{entity}{self.year_group}"


class _Refused(Exception):
    def __init__(self, message: str, where: str = UPLOAD_FIELD) -> None:
        super().__init__(message)
        self.error = FieldError(field=where, message=message)


class _Budget:
    """The bytes the file's datasets may still expand to."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def take(self, dataset: h5py.Dataset, where: str) -> None:
        # Python integers: a hostile shape's product would wrap around in int64.
        size = math.prod(int(extent) for extent in dataset.shape) * dataset.dtype.itemsize
        if size > self.left:
            raise _Refused(
                f"holds {size} bytes uncompressed: the file is over the limit of "
                f"{self.limit} bytes",
                where,
            )
        self.left -= size


def read_hdf5(source: IO[bytes], *, year: int | None, max_bytes: int) -> Hdf5Content:
    """The population in an HDF5 upload; `year` picks one of a multi-year file's years."""
    budget = _Budget(max_bytes)
    try:
        with h5py.File(source, "r") as file:
            person = _child(file, "person", required=False)
            if isinstance(person, h5py.Group):
                return _entity_tables(file, person, year, budget)
            return _variable_arrays(file, year, budget)
    except _Refused as refused:
        return Hdf5Content(errors=[refused.error])
    except UNREADABLE_HDF5 as exc:
        return Hdf5Content(
            errors=[
                FieldError(
                    field=UPLOAD_FIELD, message=f"is not a readable HDF5 file ({reason_of(exc)})"
                )
            ]
        )


def _entity_tables(
    file: h5py.File, person: h5py.Group, year: int | None, budget: _Budget
) -> Hdf5Content:
    years = sorted(name for name in person if YEAR.match(name))
    if "table" in person or not years:
        held = _single_year(file, budget)
        chosen, prefix = _check_year(year, [held] if held is not None else [], default=year), ""
    else:
        chosen = _check_year(year, [int(y) for y in years], default=None)
        prefix = f"/{chosen}"
    population: Population = {}
    for entity in ENTITIES:
        group = _child(file, entity, required=False)
        if group is not None and prefix:
            group = _child(group, prefix.strip("/"), required=False, where=f"/{entity}")
        if not isinstance(group, h5py.Group):
            continue
        where = f"{UPLOAD_FIELD}:/{entity}{prefix}"
        population[entity] = typed(_table(group, where, budget))
    return Hdf5Content(population, ENTITY_TABLES, chosen, year_group=prefix)


def _single_year(file: h5py.File, budget: _Budget) -> int | None:
    """The year `USSingleYearDataset.save()` records in `/_time_period`, if it does."""
    group = _child(file, "_time_period", required=False)
    if not isinstance(group, h5py.Group):
        return None
    table = _dataset(group, "table", f"{UPLOAD_FIELD}:/_time_period", budget)
    values = table[()]
    if table.dtype.names is None or "values" not in table.dtype.names or len(values) != 1:
        raise _Refused("/_time_period must hold one year", f"{UPLOAD_FIELD}:/_time_period")
    return int(values["values"][0])


def _check_year(requested: int | None, held: list[int], default: int | None) -> int | None:
    if not held:
        return default
    if requested is None:
        if len(held) == 1:
            return held[0]
        listed = ", ".join(map(str, held))
        raise _Refused(f"the file holds the years {listed}: choose one", YEAR_FIELD)
    if requested not in held:
        listed = ", ".join(map(str, held))
        raise _Refused(f"the file holds {listed}, not {requested}", YEAR_FIELD)
    return requested


def _table(group: h5py.Group, where: str, budget: _Budget) -> pd.DataFrame:
    """A pandas table stored with data columns: one compound field per column."""
    table = _dataset(group, "table", where, budget)
    names = table.dtype.names
    if names is None:
        raise _Refused("is not a pandas table (a compound dataset `table`)", where)
    blocks = [name for name in names if name.startswith("values_block_")]
    if blocks:
        raise _Refused(
            "stores its columns in blocks whose names PyTables keeps in pickled attributes, "
            "which are not read from uploads: save it with data_columns=True, as "
            "USSingleYearDataset.save does",
            where,
        )
    values = table[()]
    columns: dict[str, np.ndarray] = {}
    for name in names:
        if name == TABLE_INDEX:
            continue
        column_type = table.dtype.fields[name][0]
        if column_type.shape or column_type.kind not in "biufS":
            raise _Refused(f"column {name} has a type that is not read ({column_type})", where)
        columns[name] = values[name]
    return pd.DataFrame(columns)


def _variable_arrays(file: h5py.File, year: int | None, budget: _Budget) -> Hdf5Content:
    arrays = {name: _child(file, name, required=True) for name in file}
    groups = [node for node in arrays.values() if isinstance(node, h5py.Group)]
    periods = sorted({period for node in groups for period in node if YEAR.match(period)})
    chosen = _check_year(year, [int(p) for p in periods], default=year)
    by_entity: dict[str, dict[str, np.ndarray]] = {entity: {} for entity in ENTITIES}
    unknown: list[str] = []
    for name, node in arrays.items():
        where = f"{UPLOAD_FIELD}:/{name}"
        if isinstance(node, h5py.Group):
            if chosen is None or str(chosen) not in node:
                continue
            node = _dataset(node, str(chosen), where, budget)
            where = f"{where}/{chosen}"
        else:
            budget.take(node, where)
        entity = column_entity(name)
        if entity is None:
            unknown.append(name)
            continue
        by_entity[entity][name] = _array(node, where)
    if unknown:
        shown = ", ".join(sorted(unknown)[:10]) + (" and more" if len(unknown) > 10 else "")
        raise _Refused(f"arrays that are not policyengine-us variables: {shown}")
    population = {
        entity: typed(_frame(entity, columns)) for entity, columns in by_entity.items() if columns
    }
    return Hdf5Content(population, VARIABLE_ARRAYS, chosen)


def _array(dataset: h5py.Dataset, where: str) -> np.ndarray:
    if len(dataset.shape) != 1:
        raise _Refused(f"must be a one-dimensional array, found shape {dataset.shape}", where)
    string = h5py.check_string_dtype(dataset.dtype)
    if string is not None and string.length is None:
        return np.asarray(dataset.asstr()[()], dtype=object)
    if dataset.dtype.kind not in "biufS":
        raise _Refused(f"has a type that is not read ({dataset.dtype})", where)
    values: np.ndarray = dataset[()]
    return values


def _frame(entity: str, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    ids = f"{entity}_id"
    if ids not in columns:
        raise _Refused(f"no {ids} array: the {entity} entity's ids are required")
    rows = len(columns[ids])
    for name, values in columns.items():
        if len(values) != rows:
            raise _Refused(
                f"has {len(values)} values, but there are {rows} {entity} ids",
                f"{UPLOAD_FIELD}:/{name}",
            )
    return pd.DataFrame(columns)


def _child(
    group: h5py.Group, name: str, *, required: bool, where: str = ""
) -> h5py.Group | h5py.Dataset | None:
    """A group's member reached through a hard link; soft and external links are refused."""
    link = group.get(name, getlink=True)
    path = f"{UPLOAD_FIELD}:{where}/{name}"
    if link is None:
        if required:
            raise _Refused("is missing", path)
        return None
    if not isinstance(link, h5py.HardLink):
        raise _Refused(f"is a {type(link).__name__}: only hard links are followed", path)
    node: Any = group[name]
    if isinstance(node, h5py.Dataset):
        if node.external or node.is_virtual:
            raise _Refused("keeps its data outside the file", path)
        return node
    if isinstance(node, h5py.Group):
        return node
    raise _Refused("is neither a group nor a dataset", path)


def _dataset(group: h5py.Group, name: str, where: str, budget: _Budget) -> h5py.Dataset:
    node = _child(group, name, required=True, where=where.removeprefix(f"{UPLOAD_FIELD}:"))
    if not isinstance(node, h5py.Dataset):
        raise _Refused("is a group, not a dataset", f"{where}/{name}")
    budget.take(node, f"{where}/{name}")
    return node
