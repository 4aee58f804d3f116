"""Request and response examples for every operation of the public OpenAPI document.

The services' documents say what each body is; this fills in, for every JSON request
body and success response that has no example of its own, one example built from the
schema: the schema's own `examples` or `default` where it gives one, a realistic value
for the schemas of the main resources (`EXAMPLES`), and otherwise a value of the right
type within the schema's bounds. Tests validate every example against its schema.
"""

from __future__ import annotations

import copy
from typing import Any

DATASET_ID = "3f6d0c8e-5b7a-4d2e-9a41-0c2b7e5d9f10"
POLICY_ID = "8b1e4a27-6c3d-4f59-8e02-7d4c1b9a6e35"
SIMULATION_ID = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
TIME = "2026-11-26T14:31:38.123456Z"
CTC = "gov.irs.credits.ctc.amount.base[0].amount"
REFORM = {CTC: {"2026-01-01.2100-12-31": 3000}}

# Realistic bodies of the main resources, by schema name.
EXAMPLES: dict[str, Any] = {
    "SyntheticDatasetRequest": {
        "name": "Synthetic US",
        "households": 3000,
        "seed": 0,
        "year": 2025,
    },
    "PolicyCreate": {
        "name": "CTC $3,000",
        "description": "A larger child tax credit",
        "data": REFORM,
    },
    "SimulationRequest": {"dataset_id": DATASET_ID, "policy_id": POLICY_ID, "year": 2026},
    "SimulationBatch": {
        "simulations": [
            {"dataset_id": DATASET_ID, "policy_id": POLICY_ID, "year": 2026},
            {"dataset_id": DATASET_ID, "policy_id": POLICY_ID, "year": 2027},
        ]
    },
    "HouseholdCalculationRequest": {
        "household": {
            "people": {
                "parent": {"age": {"2026": 40}, "employment_income": {"2026": 45000}},
                "child": {"age": {"2026": 7}},
            },
            "tax_units": {"tax_unit": {"members": ["parent", "child"]}},
            "households": {
                "household": {"members": ["parent", "child"], "state_code_str": {"2026": "TX"}}
            },
        },
        "variables": ["household_net_income", "ctc"],
    },
}

# Free-form fields (`{}` schemas, open objects), by field name.
FIELD_EXAMPLES: dict[str, Any] = {
    "year": 2026,
    "years": [2026],
    "model_version": "2.68.0",
    "households": 3000,
    "people": 7343,
    "data": REFORM,
    "policy": REFORM,
    "report": {
        "budget": {
            "budgetary_impact": -41_512_345_678.9,
            "tax_revenue_impact": -38_101_002_334.1,
            "benefit_spending_impact": 3_411_343_344.8,
            "households": 131_201_456.0,
        },
        "decile": {"average": {"1": 210.4, "10": 12.9}, "relative": {"1": 0.012, "10": 0.0001}},
    },
}

_STRING_BY_FORMAT = {
    "date-time": TIME,
    "date": "2026-01-01",
    "uuid": SIMULATION_ID,
    "uri": "https://example.org/hooks/fiscus",
    "email": "analyst@example.org",
}
_MAX_DEPTH = 12


def _resolve(document: dict[str, Any], reference: str) -> tuple[str, dict[str, Any]]:
    node: Any = document
    for part in reference.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return reference.rsplit("/", 1)[-1], node


def _string(schema: dict[str, Any], name: str) -> str:
    if schema.get("format") in _STRING_BY_FORMAT:
        return _STRING_BY_FORMAT[schema["format"]]
    if name == "id" or name.endswith("_id"):
        value = {"dataset_id": DATASET_ID, "policy_id": POLICY_ID}.get(name, SIMULATION_ID)
    elif name.endswith("_at"):
        value = TIME
    elif name == "url":
        value = "https://example.org/hooks/fiscus"
    else:
        value = name.replace("_", " ") or "text"
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    value = value.ljust(low, "x")
    return value[:high] if high is not None else value


def _number(schema: dict[str, Any], integral: bool) -> int | float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    value: float = 1 if low is None else low + (1 if "exclusiveMinimum" in schema else 0)
    if high is not None and value > high:
        value = high
    return int(value) if integral else float(value)


def example_of(
    schema: dict[str, Any], document: dict[str, Any], name: str = "", depth: int = 0
) -> Any:
    """A value valid for `schema` (refs resolved in `document`); `name` names the field."""
    if depth > _MAX_DEPTH:
        return None
    if "$ref" in schema:
        schema_name, target = _resolve(document, schema["$ref"])
        if schema_name in EXAMPLES:
            return copy.deepcopy(EXAMPLES[schema_name])
        return example_of(target, document, name, depth + 1)
    for key in ("example", "const"):
        if key in schema:
            return copy.deepcopy(schema[key])
    if schema.get("examples"):
        return copy.deepcopy(schema["examples"][0])
    if schema.get("default") is not None:
        return copy.deepcopy(schema["default"])
    if "enum" in schema:
        return schema["enum"][0]
    if name in FIELD_EXAMPLES and "properties" not in schema:
        return copy.deepcopy(FIELD_EXAMPLES[name])
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            options = [o for o in schema[combinator] if o.get("type") != "null"]
            return example_of((options or schema[combinator])[0], document, name, depth + 1)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = example_of(part, document, name, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in schema:
        return {
            field: example_of(sub, document, field, depth + 1)
            for field, sub in schema.get("properties", {}).items()
        }
    if kind == "array":
        item = example_of(schema.get("items", {}), document, name, depth + 1)
        return [item] * max(1, schema.get("minItems", 1))
    if kind == "string":
        return _string(schema, name)
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    if kind == "boolean":
        return True
    return None


def _json_media(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [media for media_type, media in content.items() if media_type.endswith("json")]


def add_examples(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with an example on every JSON request body and success response."""
    document = copy.deepcopy(document)
    for path, operations in document.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for operation in operations.values():
            bodies = [operation.get("requestBody", {}).get("content", {})]
            bodies += [
                answer.get("content", {})
                for status, answer in operation.get("responses", {}).items()
                if str(status).startswith("2")
            ]
            for content in bodies:
                for media in _json_media(content):
                    if "schema" in media and "example" not in media and "examples" not in media:
                        media["example"] = example_of(media["schema"], document)
    return document
