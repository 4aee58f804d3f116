"""A reform that only changes parameter values, applied without building a system.

Building a policyengine-us tax-benefit system takes about 18 s, and cloning its
130,000-parameter tree about 10 s. A reform in PolicyEngine's format that only sets
values changes a handful of parameters, so `parametric_system` gives the current-law
system's shallow copy (policyengine-us's `share_spm_policy`: private variable
registry, entities and SPM receipts) a parameter tree that is the current-law tree
with only the nodes on the path to each changed parameter copied: the changed
parameters are private clones, every other node is shared, warm caches included.

It does what `CountryTaxBenefitSystem(reform=...)` does after its parameter pipeline
(apply the reform; backdating leaves a parameter the reform only updates as it is),
then asks policyengine-us which structural reforms the reformed parameters switch on.
If that set differs from current law's, the reform is structural and None is
returned: the caller builds the system in full. The new tree is marked shared, so
anything that later writes to it takes a whole private clone first, as for any
shared tree.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

_BRACKET = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<index>\d+)\]$")


def structural_reform_names(parameters: Any, start_instant: str) -> tuple[str, ...] | None:
    """The structural reforms policyengine-us switches on for `parameters`, by class name.

    None when the combined reform does not expose them (another policyengine-us
    version): the caller must then treat the reform as structural.
    """
    from policyengine_us.reforms import create_structural_reforms_from_parameters

    combined = create_structural_reforms_from_parameters(parameters, start_instant)
    closure = getattr(getattr(combined, "apply", None), "__closure__", None) or ()
    for cell in closure:
        reforms = cell.cell_contents
        if isinstance(reforms, tuple) and all(isinstance(item, type) for item in reforms):
            return tuple(sorted(item.__qualname__ for item in reforms))
    return None


def _copy_node(node: Any) -> Any:
    clone = copy.copy(node)
    clone.children = dict(node.children)
    clone._at_instant_cache = {}
    return clone


def _attach(parent: Any, name: str, child: Any) -> None:
    parent.children[name] = child
    setattr(parent, name, child)
    child.parent = parent


def copy_path(root: Any, path: str) -> Any:
    """Make the parameter at `path` under `root` (a private node) private, with its
    ancestors; returns it. ValueError, as core's `get_child`, for an unknown path."""
    from policyengine_core.parameters import Parameter, ParameterNode, ParameterScale

    node = root
    for step in path.split("."):
        match = _BRACKET.match(step)
        name = match.group("name") if match else step
        child = node.children.get(name) if isinstance(node, ParameterNode) else None
        if child is None:
            raise ValueError(f"Could not find the parameter {path} (failed at {step}).")
        if match:
            index = int(match.group("index"))
            if not isinstance(child, ParameterScale) or index >= len(child.brackets):
                raise ValueError(f"Could not find the parameter {path} (failed at {step}).")
            scale = copy.copy(child)
            scale.brackets = list(child.brackets)
            _attach(node, name, scale)
            bracket = _copy_node(scale.brackets[index])
            scale.brackets[index] = bracket
            bracket.parent = scale
            node = bracket
        elif isinstance(child, Parameter):
            leaf = child.clone()
            _attach(node, name, leaf)
            node = leaf
        elif isinstance(child, ParameterNode):
            node_copy = _copy_node(child)
            _attach(node, name, node_copy)
            node = node_copy
        else:
            # A scale named without a bracket: copy it whole, it is small.
            scale = child.clone()
            _attach(node, name, scale)
            node = scale
    return node


def parametric_system(
    base: Any, policy: Mapping[str, Any], start_instant: str, current_law_structure: Any
) -> Any | None:
    """`base` under `policy` with only the changed parameters copied, or None when the
    policy switches a structural reform on or off (build it in full then)."""
    from policyengine_core.parameters import Parameter
    from policyengine_core.reforms import Reform
    from policyengine_us.spm import mark_tree_shared, share_spm_policy

    system = share_spm_policy(base)
    root = _copy_node(system.parameters)
    changed = [copy_path(root, path) for path in policy]
    if not all(isinstance(parameter, Parameter) for parameter in changed):
        return None
    reform = Reform.from_dict(copy.deepcopy(dict(policy)), country_id="us")

    class Target:
        parameters = root

    reform.apply(Target())
    if current_law_structure is None or (
        structural_reform_names(root, start_instant) != current_law_structure
    ):
        return None
    for parameter in changed:
        node = parameter
        while node is not None and node is not root:
            node.modified = False
            node = getattr(node, "parent", None)
    root.modified = False
    mark_tree_shared(root)
    system.parameters = root
    system._parameters_at_instant_cache = {}
    return system
