"""What each variable of a run read, and so what a reform of some parameters can change.

A run traced with a `DependencyTracer` records, for every variable it calculated, the
variables and parameters its formula read, and every (variable, period) it calculated.
From that `DependencyRecord`, the variables a parametric reform affects are those that
read a changed parameter, and then, transitively, those that read an affected variable;
every other value of the reformed run equals the traced run's, so it can be taken from
there instead of calculated (`services.simulation.domain.reform_arm`).

policyengine-core's tracing parameter node records a read only when it reaches a leaf
value or a vectorial node; reading a scale (`p.amount.base.calc(age)`) records nothing.
`record_scale_reads()` makes it record those too, for this tracer only. Parameters a
variable reads outside its formula's parameter argument are added from the variable's
definition (`adds`/`subtracts` naming parameters, `uprating`), and an abolition
parameter affects the variable it names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ABOLITIONS = "gov.abolitions."


class DependencyTracer:
    """A policyengine-core tracer that keeps only who read what.

    It answers the tracer interface core calls while calculating (`stack`,
    `record_calculation_start`/`_result`/`_end`, `record_parameter_access`) and keeps
    no values, so a traced run holds no more arrays than an untraced one.
    """

    def __init__(self) -> None:
        self._stack: list[dict[str, Any]] = []
        self.variable_reads: dict[str, set[str]] = {}
        self.parameter_reads: dict[str, set[str]] = {}
        self.calculated: dict[tuple[str, str], Any] = {}

    @property
    def stack(self) -> list[dict[str, Any]]:
        return self._stack

    def record_calculation_start(
        self, variable: str, period: Any, branch_name: str = "default"
    ) -> None:
        if self._stack:
            self.variable_reads.setdefault(self._stack[-1]["name"], set()).add(variable)
        self.calculated.setdefault((variable, str(period)), period)
        self._stack.append({"name": variable, "period": period, "branch_name": branch_name})

    def record_calculation_result(self, value: Any) -> None:
        pass

    def record_calculation_end(self) -> None:
        self._stack.pop()

    def record_parameter_access(
        self, parameter: str, period: Any, branch_name: Any, value: Any
    ) -> None:
        if self._stack:
            self.parameter_reads.setdefault(self._stack[-1]["name"], set()).add(parameter)

    def get_nb_requests(self, variable: str) -> int:
        return sum(1 for name, _ in self.calculated if name == variable)

    def record(self, system: Any) -> DependencyRecord:
        """The record of everything traced so far, with `system`'s definition-time reads."""
        parameter_reads = {name: set(reads) for name, reads in self.parameter_reads.items()}
        for name, reads in definition_parameter_reads(system).items():
            parameter_reads.setdefault(name, set()).update(reads)
        return DependencyRecord(
            variable_reads={name: frozenset(reads) for name, reads in self.variable_reads.items()},
            parameter_reads={name: frozenset(reads) for name, reads in parameter_reads.items()},
            calculated=tuple((name, period) for (name, _), period in self.calculated.items()),
        )


def definition_parameter_reads(system: Any) -> dict[str, set[str]]:
    """Parameters each variable reads through its definition rather than its formula."""
    variables = system.variables
    reads: dict[str, set[str]] = {}
    for name, variable in variables.items():
        for attribute in ("adds", "subtracts"):
            listed = getattr(variable, attribute, None)
            if isinstance(listed, str):
                listed = [listed]
            for item in listed or ():
                if isinstance(item, str) and item not in variables:
                    reads.setdefault(name, set()).add(item)
        uprating = getattr(variable, "uprating", None)
        if isinstance(uprating, str):
            reads.setdefault(name, set()).add(uprating)
    return reads


def names_parameter(recorded: str, changed: str) -> bool:
    """Whether a read recorded as `recorded` can see a change to parameter `changed`.

    A vectorial read is recorded under its node's name and a scale under the scale's,
    so a bracket path (`...base[0].amount`) is matched by prefix; a recorded leaf
    below a changed node is matched too.
    """
    if recorded == changed:
        return True
    return changed.startswith((recorded + ".", recorded + "[")) or recorded.startswith(
        (changed + ".", changed + "[")
    )


@dataclass(frozen=True)
class DependencyRecord:
    variable_reads: Mapping[str, frozenset[str]]
    parameter_reads: Mapping[str, frozenset[str]]
    # (variable, period object), in the order first calculated.
    calculated: tuple[tuple[str, Any], ...]

    def readers_of_parameters(self, changed: Iterable[str]) -> frozenset[str]:
        """Variables whose formulas (or definitions) read any of `changed`."""
        paths = list(changed)
        direct = {
            name
            for name, reads in self.parameter_reads.items()
            if any(names_parameter(read, path) for read in reads for path in paths)
        }
        direct.update(path[len(ABOLITIONS) :] for path in paths if path.startswith(ABOLITIONS))
        return frozenset(direct)

    def affected(
        self, changed_parameters: Iterable[str], replaced_variables: Iterable[str] = ()
    ) -> frozenset[str]:
        """Everything that reads a changed parameter or a replaced or affected variable."""
        readers: dict[str, set[str]] = {}
        for name, reads in self.variable_reads.items():
            for read in reads:
                readers.setdefault(read, set()).add(name)
        affected = set(self.readers_of_parameters(changed_parameters)) | set(replaced_variables)
        pending = list(affected)
        while pending:
            for reader in readers.get(pending.pop(), ()):
                if reader not in affected:
                    affected.add(reader)
                    pending.append(reader)
        return frozenset(affected)


_scale_reads_recorded = False


def record_scale_reads() -> None:
    """Make policyengine-core's tracing parameter node record scale reads for our tracer.

    Core records a read only when the child read is a leaf value or a vectorial node;
    a scale (and any other non-node child) passes unrecorded. The wrapper records it
    under the scale's path when the tracer is a `DependencyTracer`, and changes
    nothing for any other tracer.
    """
    global _scale_reads_recorded
    if _scale_reads_recorded:
        return
    from policyengine_core import parameters
    from policyengine_core.tracers import tracing_parameter_node_at_instant as tracing

    node_class = tracing.TracingParameterNodeAtInstant
    traced_child = node_class.get_traced_child
    traced_iteration = node_class.__iter__
    recorded_types = (
        parameters.ParameterNodeAtInstant,
        parameters.VectorialParameterNodeAtInstant,
        *parameters.ALLOWED_PARAM_TYPES,
    )

    def get_traced_child(self: Any, child: Any, key: Any) -> Any:
        result = traced_child(self, child, key)
        if isinstance(self.tracer, DependencyTracer) and not (
            isinstance(child, recorded_types) or hasattr(child, "__array__")
        ):
            node = self.parameter_node_at_instant
            vectorial = isinstance(node, parameters.VectorialParameterNodeAtInstant)
            name = f"{node._name}.{key}" if isinstance(key, str) and not vectorial else node._name
            self.tracer.record_parameter_access(name, None, self.branch_name, None)
        return result

    def iterate(self: Any) -> Any:
        # Iterating a node reads its children untraced: record the whole node.
        if isinstance(self.tracer, DependencyTracer):
            name = self.parameter_node_at_instant._name
            self.tracer.record_parameter_access(name, None, self.branch_name, None)
        return traced_iteration(self)

    node_class.get_traced_child = get_traced_child
    node_class.__iter__ = iterate
    _scale_reads_recorded = True
