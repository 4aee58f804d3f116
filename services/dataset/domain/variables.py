"""Which policyengine-us variables a dataset may carry, and on which entity.

The dataset service does not import policyengine-us (25 s and a gigabyte per process
for a list of names), so the list is kept beside this module as `us_variables.json`,
written by `python -m services.dataset.domain.variables` from the installed
policyengine-us; a test checks that it still matches the installed model.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.population import ENTITIES, GROUP_ENTITIES

CATALOG_PATH = Path(__file__).with_name("us_variables.json")
# What a column holds, as policyengine-us declares it: `text` covers its `str` and
# `Enum` variables (an enum input is given by its member's name).
KINDS = ("float", "int", "bool", "text")


@dataclass(frozen=True)
class Variable:
    name: str
    entity: str
    kind: str


@dataclass(frozen=True)
class VariableCatalog:
    model_version: str
    variables: dict[str, Variable]

    def get(self, name: str) -> Variable | None:
        return self.variables.get(name)


def structural_columns(entity: str) -> tuple[str, ...]:
    """Columns policyengine-core reads to build the entities rather than as variables."""
    if entity != "person":
        return (f"{entity}_id",)
    return (
        "person_id",
        *(f"person_{group}_id" for group in GROUP_ENTITIES),
        *(f"person_{group}_role" for group in GROUP_ENTITIES),
    )


@functools.cache
def catalog() -> VariableCatalog:
    document = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    variables = {
        name: Variable(name, entity, kind)
        for entity, kinds in document["entities"].items()
        for kind, names in kinds.items()
        for name in names
    }
    return VariableCatalog(document["policyengine_us"], variables)


def column_entity(name: str) -> str | None:
    """The entity a column belongs to: a structural column's, else its variable's."""
    for entity in ENTITIES:
        if name in structural_columns(entity):
            return entity
    variable = catalog().get(name)
    return variable.entity if variable is not None else None


def describe_model(system: Any, version: str) -> dict[str, Any]:
    """The catalog document of a policyengine-us tax-benefit system."""
    entities: dict[str, dict[str, list[str]]] = {
        entity: {kind: [] for kind in KINDS} for entity in ENTITIES
    }
    for name, variable in sorted(system.variables.items()):
        kind = variable.value_type.__name__
        kind = kind if kind in ("float", "int", "bool") else "text"
        entities[variable.entity.key][kind].append(name)
    return {"policyengine_us": version, "entities": entities}


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def installed_model() -> dict[str, Any]:
    """The catalog of the installed policyengine-us (imports it: slow)."""
    import importlib.metadata

    from policyengine_us.system import system

    return describe_model(system, importlib.metadata.version("policyengine-us"))


if __name__ == "__main__":
    CATALOG_PATH.write_text(render(installed_model()), encoding="utf-8")
    print(f"wrote {CATALOG_PATH}")
