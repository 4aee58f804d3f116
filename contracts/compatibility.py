"""Whether a new JSON Schema of an existing event version would break its consumers.

Breaking: a field removed (a rename is a removal), a field's type changed, or a field
required that was not. Adding an optional field is compatible: consumers ignore
unknown fields. A breaking change needs a new version (`v2`) of the payload module.
"""

from __future__ import annotations

from typing import Any

# Keywords that describe a value without constraining it.
ANNOTATIONS = frozenset({"title", "description", "default", "examples", "deprecated", "$comment"})
COMBINATORS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
SUBSCHEMAS = frozenset({"items", "additionalProperties"})


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Every change from `old` to `new` that breaks a consumer of `old`, one sentence each."""
    return _compare(old, old, new, new, "")


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        reference = schema["$ref"]
        if not reference.startswith("#/$defs/"):
            raise ValueError(f"cannot follow the reference {reference!r}")
        target = root["$defs"][reference.removeprefix("#/$defs/")]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _is_object(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "object" and "properties" in schema


def _compare(
    old: dict[str, Any],
    old_root: dict[str, Any],
    new: dict[str, Any],
    new_root: dict[str, Any],
    path: str,
) -> list[str]:
    old = _resolve(old, old_root)
    new = _resolve(new, new_root)
    where = path or "the event"
    if _is_object(old) or _is_object(new):
        if not (_is_object(old) and _is_object(new)):
            return [f"{where}: retyped"]
        return _compare_objects(old, old_root, new, new_root, path)
    problems: list[str] = []
    for key in sorted((set(old) | set(new)) - ANNOTATIONS - {"$defs", "$schema"}):
        before, after = old.get(key), new.get(key)
        if key in COMBINATORS:
            if not isinstance(before, list) or not isinstance(after, list):
                problems.append(f"{where}: retyped ({key} added or removed)")
            elif len(before) != len(after):
                problems.append(f"{where}: retyped ({key} has other alternatives)")
            else:
                for index, (was, is_now) in enumerate(zip(before, after, strict=True)):
                    problems += _compare(was, old_root, is_now, new_root, f"{path}<{index}>")
        elif key in SUBSCHEMAS and isinstance(before, dict) and isinstance(after, dict):
            problems += _compare(before, old_root, after, new_root, f"{path}[]")
        elif before != after:
            problems.append(f"{where}: retyped ({key} was {before!r}, is {after!r})")
    return problems


def _compare_objects(
    old: dict[str, Any],
    old_root: dict[str, Any],
    new: dict[str, Any],
    new_root: dict[str, Any],
    path: str,
) -> list[str]:
    prefix = f"{path}." if path else ""
    problems: list[str] = []
    old_fields: dict[str, Any] = old["properties"]
    new_fields: dict[str, Any] = new["properties"]
    for name, schema in old_fields.items():
        if name not in new_fields:
            problems.append(f"{prefix}{name}: removed (or renamed)")
        else:
            problems += _compare(schema, old_root, new_fields[name], new_root, f"{prefix}{name}")
    for name in sorted(set(new.get("required", ())) - set(old.get("required", ()))):
        if name in old_fields:
            problems.append(f"{prefix}{name}: was optional, is required")
        else:
            problems.append(f"{prefix}{name}: new required field")
    return problems
