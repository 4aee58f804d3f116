"""policyengine-us metadata in PolicyEngine API v1's shape (`GET /us/metadata`).

The same fields v1 builds from the same tax-benefit system (policyengine-api's
`country.py`): `variables`, `parameters` (every `gov` parameter and node, values by
date), `entities`, `variableModules`, `economy_options`, `current_law_id`,
`basicInputs`, `modelled_policies` and `version`. `economy_options` lists what Fiscus
simulates: the US and each state as regions, 2022 to 2035 as time periods, and the
datasets a deployment names (v1's own list names its bundled files).

Built once per process on first use (a few seconds) and kept as JSON bytes.
"""

from __future__ import annotations

import datetime
import enum
import json
import math
import threading
from pathlib import Path
from typing import Any

from services.policy.domain.parameters import PolicyEngineParameterTree

CURRENT_LAW_ID = 2
TIME_PERIODS = tuple(range(2035, 2021, -1))
STATE_NAMES = {
    "al": "Alabama", "ak": "Alaska", "az": "Arizona", "ar": "Arkansas", "ca": "California",
    "co": "Colorado", "ct": "Connecticut", "de": "Delaware", "dc": "District of Columbia",
    "fl": "Florida", "ga": "Georgia", "hi": "Hawaii", "id": "Idaho", "il": "Illinois",
    "in": "Indiana", "ia": "Iowa", "ks": "Kansas", "ky": "Kentucky", "la": "Louisiana",
    "me": "Maine", "md": "Maryland", "ma": "Massachusetts", "mi": "Michigan",
    "mn": "Minnesota", "ms": "Mississippi", "mo": "Missouri", "mt": "Montana",
    "ne": "Nebraska", "nv": "Nevada", "nh": "New Hampshire", "nj": "New Jersey",
    "nm": "New Mexico", "ny": "New York", "nc": "North Carolina", "nd": "North Dakota",
    "oh": "Ohio", "ok": "Oklahoma", "or": "Oregon", "pa": "Pennsylvania",
    "ri": "Rhode Island", "sc": "South Carolina", "sd": "South Dakota", "tn": "Tennessee",
    "tx": "Texas", "ut": "Utah", "vt": "Vermont", "va": "Virginia", "wa": "Washington",
    "wv": "West Virginia", "wi": "Wisconsin", "wy": "Wyoming",
}  # fmt: skip


def economy_options() -> dict[str, Any]:
    regions = [{"name": "us", "label": "the US", "type": "national"}]
    regions += [
        {"name": f"state/{code}", "label": name, "type": "state"}
        for code, name in STATE_NAMES.items()
    ]
    return {
        "region": regions,
        "time_period": [{"name": year, "label": str(year)} for year in TIME_PERIODS],
        "datasets": [],
    }


def build_v1_metadata(tree: PolicyEngineParameterTree) -> dict[str, Any]:
    system = tree.system
    if system is None:
        raise TypeError("v1 metadata needs the tax-benefit system")
    document: dict[str, Any] = json_safe(
        {
            "variables": {name: _variable(v) for name, v in system.variables.items()},
            "parameters": _parameters(system.parameters),
            "entities": {entity.key: _entity(entity) for entity in system.entities},
            "variableModules": getattr(system, "variable_module_metadata", {}),
            "economy_options": economy_options(),
            "current_law_id": CURRENT_LAW_ID,
            "basicInputs": getattr(system, "basic_inputs", []),
            "modelled_policies": getattr(system, "modelled_policies", {}),
            "version": tree.model_version,
        }
    )
    return document


def _variable(variable: Any) -> dict[str, Any]:
    value_type = variable.value_type.__name__
    default = variable.default_value
    described: dict[str, Any] = {
        "documentation": variable.documentation,
        "entity": variable.entity.key,
        "valueType": value_type,
        "definitionPeriod": variable.definition_period,
        "name": variable.name,
        "label": variable.label,
        "category": getattr(variable, "category", None),
        "unit": variable.unit,
        "moduleName": getattr(variable, "module_name", None),
        "indexInModule": getattr(variable, "index_in_module", None),
        "isInputVariable": variable.is_input_variable(),
        "defaultValue": default if isinstance(default, int | float | bool) else None,
        "adds": getattr(variable, "adds", None),
        "subtracts": getattr(variable, "subtracts", None),
        "hidden_input": getattr(variable, "hidden_input", False),
    }
    if value_type == "Enum":
        described["possibleValues"] = [
            {"value": member.name, "label": member.value} for member in variable.possible_values
        ]
        described["defaultValue"] = default.name
    return described


def _parameters(root: Any) -> dict[str, Any]:
    from policyengine_core.parameters import (
        Parameter,
        ParameterNode,
        ParameterScale,
        ParameterScaleBracket,
    )

    described: dict[str, Any] = {}
    for parameter in root.get_descendants():
        if parameter.name[:3] != "gov":
            continue
        end = parameter.name.split(".")[-1].replace("_", " ")
        metadata = parameter.metadata
        common = {"parameter": parameter.name, "description": parameter.description}
        if isinstance(parameter, ParameterScale):
            parameter.propagate_units()
            described[parameter.name] = {
                "type": "parameterNode",
                **common,
                "label": metadata.get("label", end),
            }
        elif isinstance(parameter, ParameterScaleBracket):
            index = int(parameter.name[parameter.name.index("[") + 1 : -1])
            label = metadata.get("label", f"bracket {index + 1}")
            described[parameter.name] = {"type": "parameterNode", **common, "label": label}
        elif isinstance(parameter, Parameter):
            described[parameter.name] = {
                "type": "parameter",
                **common,
                "label": metadata.get("label", end),
                "unit": metadata.get("unit"),
                "period": metadata.get("period"),
                "values": {at.instant_str: at.value for at in parameter.values_list},
                "economy": metadata.get("economy", True),
                "household": metadata.get("household", True),
            }
        elif isinstance(parameter, ParameterNode):
            described[parameter.name] = {
                "type": "parameterNode",
                **common,
                "label": metadata.get("label", end),
                "economy": metadata.get("economy", True),
                "household": metadata.get("household", True),
            }
    return described


def _entity(entity: Any) -> dict[str, Any]:
    roles = {
        role.key: {"plural": role.plural, "label": role.label, "doc": role.doc}
        for role in getattr(entity, "roles", [])
    }
    return {
        "plural": entity.plural,
        "label": entity.label,
        "doc": entity.doc,
        "is_person": entity.is_person,
        "key": entity.key,
        "roles": roles,
    }


def json_safe(value: Any) -> Any:
    """Dates as ISO text, enums by name, paths as text, non-finite numbers as null."""
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item) for item in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    item = getattr(value, "item", None)
    return json_safe(item()) if callable(item) else str(value)


class V1MetadataDocument:
    """The document as JSON bytes, built on first use and kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._body: bytes | None = None

    def body(self, tree: PolicyEngineParameterTree) -> bytes:
        with self._lock:
            if self._body is None:
                document = {"status": "ok", "message": None, "result": build_v1_metadata(tree)}
                self._body = json.dumps(document, separators=(",", ":")).encode()
            return self._body
