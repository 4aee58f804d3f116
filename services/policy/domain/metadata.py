"""Parameter and variable metadata of policyengine-us, indexed once for search and lookup.

`MetadataCatalog` is built from the loaded parameter tree and tax-benefit system at
process start (`WarmCatalog`, in a thread); afterwards every request reads it in memory.
A search keeps the items whose text holds every word of the query, in name order; a
page ends with a cursor naming its last item, so pages neither shift nor repeat.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import datetime
import enum
import logging
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from services.policy.domain.parameters import PolicyEngineParameterTree, WarmParameterTree

log = logging.getLogger(__name__)

NOT_A_CURSOR = "not a cursor from this API"
# Readiness waits this long for a catalog being built (the gateway asks with a 3 s limit).
READINESS_WAIT_SECONDS = 1.0


@dataclass(frozen=True)
class ValueFrom:
    """A parameter's value from `start` (ISO date) until the next entry."""

    start: str
    value: Any


@dataclass(frozen=True)
class ParameterInfo:
    """A parameter a reform can set, described."""

    name: str
    label: str | None
    description: str | None
    unit: str | None
    period: str | None
    values: tuple[ValueFrom, ...]
    search_text: str = field(repr=False, default="")


@dataclass(frozen=True)
class VariableInfo:
    """A policyengine-us variable, described."""

    name: str
    label: str | None
    entity: str
    unit: str | None
    definition_period: str
    value_type: str
    documentation: str | None
    default_value: Any = None
    possible_values: tuple[str, ...] | None = None
    search_text: str = field(repr=False, default="")


Info = TypeVar("Info", ParameterInfo, VariableInfo)


@dataclass(frozen=True)
class CatalogPage(Generic[Info]):
    """Items of one page of a search and the cursor of the next page, if any."""

    items: list[Info]
    next_cursor: str | None


def encode_name_cursor(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def decode_name_cursor(cursor: str) -> str:
    """The name a cursor starts after; ValueError if `encode_name_cursor` did not make it."""
    try:
        name = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(NOT_A_CURSOR) from exc
    if not name:
        raise ValueError(NOT_A_CURSOR)
    return name


class Index(Generic[Info]):
    """Items sorted by name: look one up, or search them a page at a time."""

    def __init__(self, items: Sequence[Info]) -> None:
        self._items: list[Info] = sorted(items, key=lambda item: item.name)
        self._names: list[str] = [item.name for item in self._items]
        self._by_name: dict[str, Info] = {item.name: item for item in self._items}

    def __len__(self) -> int:
        return len(self._items)

    def get(self, name: str) -> Info | None:
        return self._by_name.get(name)

    def search(self, query: str | None, limit: int, cursor: str | None = None) -> CatalogPage[Info]:
        """Up to `limit` items matching every word of `query`, after `cursor`'s item."""
        words = (query or "").lower().split()
        start = 0
        if cursor is not None:
            start = bisect.bisect_right(self._names, decode_name_cursor(cursor))
        found: list[Info] = []
        more = False
        for item in self._items[start:]:
            if all(word in item.search_text for word in words):
                if len(found) == limit:
                    more = True
                    break
                found.append(item)
        next_cursor = encode_name_cursor(found[-1].name) if more and found else None
        return CatalogPage(found, next_cursor)


@dataclass(frozen=True)
class MetadataCatalog:
    """Every parameter (leaf) and variable of the model, searchable."""

    parameters: Index[ParameterInfo]
    variables: Index[VariableInfo]
    model_version: str = ""


def _text(*parts: str | None) -> str:
    return " ".join(part for part in parts if part).lower()


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, float) and value != value:  # NaN has no JSON form
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _json_value(value.item())
    return value


@dataclass(frozen=True)
class Inherited:
    """What a leaf takes from the nearest node above it that says it (brackets say little)."""

    label: str | None = None
    description: str | None = None


def _leaves(node: Any, above: Inherited = Inherited()) -> Iterator[tuple[Any, Inherited]]:
    """Every parameter below `node`, with the label and description nearest above it."""
    from policyengine_core.parameters import Parameter, ParameterScale

    metadata = getattr(node, "metadata", None) or {}
    here = Inherited(
        label=metadata.get("label") or above.label,
        description=getattr(node, "description", None) or above.description,
    )
    if isinstance(node, Parameter):
        yield node, above
    elif isinstance(node, ParameterScale):
        for index, bracket in enumerate(node.brackets):
            label = f"{here.label} (bracket {index + 1})" if here.label else None
            yield from _leaves(bracket, Inherited(label, here.description))
    else:
        for name, child in getattr(node, "children", {}).items():
            if not name.startswith("__"):
                yield from _leaves(child, here)


def parameter_info(parameter: Any, above: Inherited) -> ParameterInfo:
    """A parameter's description from its YAML metadata and its values, oldest first."""
    metadata = parameter.metadata or {}
    own_label = metadata.get("label")
    name = parameter.name.rsplit(".", 1)[-1]
    label = own_label or (f"{above.label}: {name}" if above.label else None)
    values = tuple(
        ValueFrom(start=entry.instant_str, value=_json_value(entry.value))
        for entry in reversed(parameter.values_list)
    )
    description = parameter.description or metadata.get("description") or above.description
    unit = metadata.get("unit")
    return ParameterInfo(
        name=parameter.name,
        label=label,
        description=description,
        unit=str(unit) if unit is not None else None,
        period=metadata.get("period"),
        values=values,
        search_text=_text(parameter.name, label, description),
    )


def variable_info(variable: Any) -> VariableInfo:
    """A variable's description from its class attributes."""
    value_type = getattr(variable.value_type, "__name__", str(variable.value_type))
    possible = getattr(variable, "possible_values", None)
    possible_values = tuple(member.name for member in possible) if possible is not None else None
    documentation = variable.documentation
    return VariableInfo(
        name=variable.name,
        label=variable.label,
        entity=variable.entity.key,
        unit=variable.unit,
        definition_period=str(variable.definition_period),
        value_type=value_type,
        documentation=documentation,
        default_value=_json_value(variable.default_value),
        possible_values=possible_values,
        search_text=_text(variable.name, variable.label, documentation),
    )


def build_catalog(tree: PolicyEngineParameterTree) -> MetadataCatalog:
    """The catalog of a loaded policyengine-us system: every leaf parameter and variable."""
    parameters = [parameter_info(leaf, above) for leaf, above in _leaves(tree.root)]
    system = tree.system
    variables = [variable_info(v) for v in system.variables.values()] if system else []
    return MetadataCatalog(Index(parameters), Index(variables), tree.model_version)


class WarmCatalog:
    """Builds the catalog once the parameter tree is loaded, in a background thread.

    One per loaded tree, shared by every app of a process (`for_tree`).
    """

    _shared: weakref.WeakKeyDictionary[WarmParameterTree, WarmCatalog] = weakref.WeakKeyDictionary()
    _shared_lock = threading.Lock()

    def __init__(self, warm: WarmParameterTree) -> None:
        self._warm = warm
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._catalog: MetadataCatalog | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()

    @classmethod
    def for_tree(cls, warm: WarmParameterTree) -> WarmCatalog:
        """The catalog of `warm`, shared by every caller in this process."""
        with cls._shared_lock:
            catalog = cls._shared.get(warm)
            if catalog is None:
                catalog = cls._shared[warm] = cls(warm)
            return catalog

    def start(self) -> None:
        """Start building once the tree is loaded, unless it already started."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="metadata", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            tree = self._warm.wait()
            started = time.perf_counter()
            if not isinstance(tree, PolicyEngineParameterTree):
                raise TypeError("metadata needs a policyengine-us parameter tree")
            self._catalog = build_catalog(tree)
            log.info(
                "metadata catalog ready",
                extra={
                    "seconds": round(time.perf_counter() - started, 3),
                    "parameters": len(self._catalog.parameters),
                    "variables": len(self._catalog.variables),
                },
            )
        except BaseException as exc:
            log.error("building the metadata catalog failed", exc_info=True)
            self._error = exc
        finally:
            self._done.set()

    async def check(self) -> None:
        """Readiness: ready once the catalog is built (waits briefly while it is)."""
        if self._catalog is None and self._warm.tree is not None and self._error is None:
            await asyncio.to_thread(self._done.wait, READINESS_WAIT_SECONDS)
        if self._catalog is not None:
            return
        if self._error is not None:
            raise RuntimeError(f"building the metadata catalog failed: {self._error!r}")
        raise RuntimeError("the metadata catalog is being built")

    @property
    def catalog(self) -> MetadataCatalog | None:
        """The catalog, or None while it is being built (or if building failed)."""
        return self._catalog

    @property
    def failure(self) -> BaseException | None:
        return self._error
