"""The policyengine-us parameter tree: loading it once, and looking parameters up in it.

Validation (domain/validation.py) sees the tree only through `ParameterTree`: it asks
for the leaf a path names, and whether PolicyEngine accepts one path's values. The
real tree is `PolicyEngineParameterTree`; `WarmParameterTree` builds it in a thread
at process start, because importing policyengine-us and building the baseline system
take most of a minute.
"""

from __future__ import annotations

import difflib
import gc
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import SimpleNamespace
from typing import Any, Protocol

log = logging.getLogger(__name__)

COUNTRY_ID = "us"
# A path segment: a child's name, optionally with a bracket index (`base[0]`).
_SEGMENT = re.compile(r"^([^.\[\]]+)(?:\[(\d+)\])?$")
_MEMBERS_SHOWN = 8


class ValueKind(StrEnum):
    """What a parameter's values are, as its baseline values and unit show."""

    NUMBER = "number"
    BOOLEAN = "boolean"
    STRING = "string"
    LIST = "list"


@dataclass(frozen=True)
class ParameterLeaf:
    """A parameter a reform can set: one value per period."""

    path: str
    kind: ValueKind
    unit: str | None = None
    # For a list parameter: what its items are, when its baseline lists agree.
    item_kind: ValueKind | None = None


class ParameterLookupError(LookupError):
    """A path that names no parameter a reform can set; says why, with close matches."""

    def __init__(self, message: str, suggestions: Iterable[str] = ()) -> None:
        self.suggestions = tuple(suggestions)
        if self.suggestions:
            message += "; did you mean " + " or ".join(self.suggestions) + "?"
        super().__init__(message)


class ReformApplicationError(ValueError):
    """PolicyEngine refused to apply a parameter's values."""


class ParameterTree(Protocol):
    """What reform validation needs of a parameter tree."""

    def leaf(self, path: str) -> ParameterLeaf:
        """The parameter `path` names; ParameterLookupError if it names none."""
        ...

    def apply(self, path: str, values: Mapping[str, Any]) -> None:
        """Apply `{path: values}` as `Reform.from_dict` does; ReformApplicationError if refused."""
        ...


class _DetachedParent:
    """Stands in for a cloned parameter's parent so that updating it touches nothing else."""

    def clear_parent_cache(self) -> None:
        pass

    def mark_as_modified(self) -> None:
        pass


class _ClonedLeaves:
    """A stand-in for a reform's parameter tree that hands out clones of single parameters.

    `Reform.from_dict(...)` applied to the whole system clones all 108k parameters
    first (8-10 s); its `apply` only ever calls `get_child(path).update(...)`, so
    running it over clones of just the parameters it touches runs the same code with
    the same outcome, in microseconds, and leaves the baseline untouched.
    """

    def __init__(self, root: Any) -> None:
        self._root = root
        self.handed_out: dict[str, Any] = {}

    def get_child(self, path: str) -> Any:
        clone = self._root.get_child(path).clone()
        clone.parent = _DetachedParent()
        self.handed_out[path] = clone
        return clone


class PolicyEngineParameterTree:
    """The parameter tree of a built policyengine-core tax-benefit system."""

    def __init__(self, root: Any, model_version: str = "", system: Any = None) -> None:
        self._root = root
        self.model_version = model_version
        # The built system the tree came from, when there is one: kept for its variable
        # metadata, and so that a whole reform can be applied to it (tests do).
        self.system = system

    @property
    def root(self) -> Any:
        """The root `ParameterNode` of the tree."""
        return self._root

    def leaf(self, path: str) -> ParameterLeaf:
        from policyengine_core.parameters import Parameter

        node = self._walk(path)
        if isinstance(node, Parameter):
            return _leaf_of(path, node)
        raise ParameterLookupError(_not_a_leaf(path, node))

    def apply(self, path: str, values: Mapping[str, Any]) -> None:
        self.reformed_parameter(path, values)

    def reformed_parameter(self, path: str, values: Mapping[str, Any]) -> Any:
        """A copy of the parameter at `path` with `values` applied by `Reform.from_dict`."""
        from policyengine_core.reforms import Reform

        reform = Reform.from_dict({path: dict(values)}, country_id=COUNTRY_ID)
        leaves = _ClonedLeaves(self._root)
        try:
            reform.apply(SimpleNamespace(parameters=leaves))
        except Exception as exc:
            raise ReformApplicationError(
                f"PolicyEngine refused it: {type(exc).__name__}: {exc}"[:500]
            ) from exc
        return leaves.handed_out[path]

    def _walk(self, path: str) -> Any:
        from policyengine_core.parameters import Parameter, ParameterScale

        node = self._root
        segments = path.split(".")
        for position, segment in enumerate(segments):
            here = ".".join(segments[:position])
            match = _SEGMENT.match(segment)
            if match is None:
                problem = "an empty name" if not segment else f'"{segment}", not a parameter name'
                raise ParameterLookupError(f"the path has {problem}")
            name, index = match.groups()
            if isinstance(node, Parameter):
                raise ParameterLookupError(f"{here} is a parameter; nothing is below it")
            if isinstance(node, ParameterScale):
                raise ParameterLookupError(
                    f"{here} is a scale: address one of its brackets, e.g. {here}[0]"
                )
            children = _visible_children(node)
            child = children.get(name)
            if child is None:
                rest = segments[position + 1 :]
                where = f"{here} has no" if here else "the tree has no top-level"
                raise ParameterLookupError(
                    f'unknown parameter: {where} "{name}"',
                    self._suggestions(here, name, index, rest, children),
                )
            if index is not None:
                named = f"{here}.{name}" if here else name
                if not isinstance(child, ParameterScale):
                    raise ParameterLookupError(f"{named} is not a scale; it has no brackets")
                count = len(child.brackets)
                if int(index) >= count:
                    raise ParameterLookupError(
                        f"bracket index {index} is out of range: {named} has {count} "
                        f"bracket{'s' if count != 1 else ''} ([0] to [{count - 1}])"
                    )
                child = child.brackets[int(index)]
            node = child
        return node

    def _suggestions(
        self,
        here: str,
        name: str,
        index: str | None,
        rest: list[str],
        children: Mapping[str, Any],
    ) -> list[str]:
        """Close matches for a mistyped segment, completed to a full path when that resolves."""
        suggestions = []
        for candidate in difflib.get_close_matches(name, list(children), n=3, cutoff=0.75):
            segment = f"{candidate}[{index}]" if index is not None else candidate
            prefix = f"{here}.{segment}" if here else segment
            completed = ".".join([prefix, *rest])
            suggestions.append(completed if self._is_leaf(completed) else prefix)
        return suggestions

    def _is_leaf(self, path: str) -> bool:
        try:
            self.leaf(path)
        except ParameterLookupError:
            return False
        return True


def _visible_children(node: Any) -> Mapping[str, Any]:
    children: dict[str, Any] = getattr(node, "children", {})
    # The YAML loader also turns a `__pycache__` folder into a (useless) node.
    return {name: child for name, child in children.items() if not name.startswith("__")}


def _not_a_leaf(path: str, node: Any) -> str:
    from policyengine_core.parameters import ParameterScale, ParameterScaleBracket

    if isinstance(node, ParameterScale):
        count = len(node.brackets)
        return (
            f"is a scale of {count} brackets, not a parameter: address one bracket's "
            f"component, e.g. {path}[0].{_first_component(node)}"
        )
    members = sorted(_visible_children(node))
    if isinstance(node, ParameterScaleBracket):
        return f"is a bracket, not a parameter: address one of its components: {', '.join(members)}"
    shown = ", ".join(members[:_MEMBERS_SHOWN]) + (", ..." if len(members) > _MEMBERS_SHOWN else "")
    return f"is a group of parameters, not a single parameter; it holds {shown}"


def _first_component(scale: Any) -> str:
    if scale.brackets:
        return str(sorted(_visible_children(scale.brackets[0]))[0])
    return "amount"


def _leaf_of(path: str, parameter: Any) -> ParameterLeaf:
    unit = parameter.metadata.get("unit")
    values = [entry.value for entry in parameter.values_list if entry.value is not None]
    if unit == "bool" or (values and all(isinstance(value, bool) for value in values)):
        return ParameterLeaf(path, ValueKind.BOOLEAN, unit)
    if unit == "list" or (values and all(isinstance(value, list) for value in values)):
        items = [item for value in values if isinstance(value, list) for item in value]
        return ParameterLeaf(path, ValueKind.LIST, unit, _common_kind(items))
    return ParameterLeaf(path, ValueKind.NUMBER, unit)


def _common_kind(items: list[Any]) -> ValueKind | None:
    if not items:
        return None
    kinds = {kind_of(item) for item in items}
    return kinds.pop() if len(kinds) == 1 else None


def kind_of(value: Any) -> ValueKind | None:
    """The kind of one JSON scalar or list, or None for anything else (null, object)."""
    if isinstance(value, bool):
        return ValueKind.BOOLEAN
    if isinstance(value, int | float):
        return ValueKind.NUMBER
    if isinstance(value, str):
        return ValueKind.STRING
    if isinstance(value, list):
        return ValueKind.LIST
    return None


def load_us_parameter_tree() -> PolicyEngineParameterTree:
    """The tree of the current-law system that importing policyengine-us builds (most of a
    minute, once per process).

    It is the very system every simulation without a reform uses
    (`policyengine_us.system.system`), so it is shared, never built a second time, and
    never changed: validation applies values to clones of single parameters, metadata
    only reads.
    """
    from importlib.metadata import version

    from policyengine_us.system import system

    return PolicyEngineParameterTree(system.parameters, version("policyengine-us"), system)


class WarmParameterTree:
    """Loads a parameter tree once, in a background thread; readiness reports it.

    Thread-based rather than a task of one event loop, so that one loaded tree can
    serve every app built in a process (the tests build several).
    """

    def __init__(self, load: Callable[[], ParameterTree] = load_us_parameter_tree) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._tree: ParameterTree | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        """Start loading, unless it already started."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="parameter-tree", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        started = time.perf_counter()
        try:
            tree = self._load()
        except BaseException as exc:
            log.critical("loading the parameter tree failed", exc_info=True)
            self._error = exc
        else:
            # The tree lives as long as the process: keep the collector off its objects.
            gc.collect()
            gc.freeze()
            self._tree = tree
            log.info(
                "parameter tree ready",
                extra={"seconds": round(time.perf_counter() - started, 3)},
            )
        finally:
            self._done.set()

    @property
    def tree(self) -> ParameterTree | None:
        """The loaded tree, or None while it is loading (or if loading failed)."""
        return self._tree

    @property
    def failure(self) -> BaseException | None:
        return self._error

    def wait(self, timeout: float | None = None) -> ParameterTree:
        """Block until loaded (tests, scripts); raises what loading raised."""
        self.start()
        if not self._done.wait(timeout):
            raise TimeoutError("the parameter tree is still loading")
        if self._tree is None:
            raise RuntimeError("loading the parameter tree failed") from self._error
        return self._tree

    async def check(self) -> None:
        """Readiness: ready only once the tree is loaded."""
        if self._tree is not None:
            return
        if self._error is not None:
            raise RuntimeError(f"loading the parameter tree failed: {self._error!r}")
        if self._thread is None:
            raise RuntimeError("the parameter tree was not started")
        raise RuntimeError("the parameter tree is loading")
