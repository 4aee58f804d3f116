"""Validation of a reform in PolicyEngine's format against a parameter tree.

A reform is `{parameter path: {period key: value}}`. Every error is collected, each
against the place it is found: `data.<path>` for the parameter, `data.<path>["<period>"]`
for one of its periods. A parameter whose own checks pass is then applied the way
`Reform.from_dict` applies it, so nothing PolicyEngine would refuse gets stored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date
from typing import Any

from services.policy.domain.parameters import (
    ParameterLeaf,
    ParameterLookupError,
    ParameterTree,
    ReformApplicationError,
    ValueKind,
    kind_of,
)
from services.policy.domain.periods import PeriodKeyError, period_start
from shared.problems import NUL_MESSAGE, FieldError

MAX_PARAMETERS = 500
MAX_PERIODS = 100
EXAMPLE = '{"gov.irs.credits.ctc.amount.base[0].amount": {"2026-01-01.2100-12-31": 3000}}'
_INFINITIES = {"infinity", "+infinity", "-infinity", "inf", "+inf", "-inf"}
_JSON_NAMES = {
    ValueKind.NUMBER: "a number",
    ValueKind.BOOLEAN: "a boolean",
    ValueKind.STRING: "a string",
    ValueKind.LIST: "an array",
}
_PLURALS = {
    ValueKind.NUMBER: "numbers",
    ValueKind.BOOLEAN: "booleans",
    ValueKind.STRING: "strings",
    ValueKind.LIST: "arrays",
}


def reform_errors(data: Any, tree: ParameterTree) -> list[FieldError]:
    """Everything wrong with `data` as a reform; empty when it can be stored."""
    if not isinstance(data, Mapping):
        return [FieldError(field="data", message=f"must be an object like {EXAMPLE}")]
    if not data:
        return [
            FieldError(
                field="data", message=f"is empty: give at least one parameter, e.g. {EXAMPLE}"
            )
        ]
    if len(data) > MAX_PARAMETERS:
        return [
            FieldError(
                field="data", message=f"sets {len(data)} parameters; at most {MAX_PARAMETERS}"
            )
        ]
    errors: list[FieldError] = []
    for path, values in data.items():
        if holds_nul(path) or holds_nul(values):
            # Postgres stores no NUL character, in text or in JSONB.
            errors.append(FieldError(field=f"data.{path}", message=NUL_MESSAGE))
            continue
        errors.extend(_parameter_errors(str(path), values, tree))
    return errors


def holds_nul(value: Any) -> bool:
    """Whether a JSON value has a NUL character in any string or key of it."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(holds_nul(item) for item in value)
    if isinstance(value, Mapping):
        return any(holds_nul(key) or holds_nul(item) for key, item in value.items())
    return False


def _parameter_errors(path: str, values: Any, tree: ParameterTree) -> list[FieldError]:
    field = f"data.{path}"
    try:
        leaf = tree.leaf(path)
    except ParameterLookupError as exc:
        return [FieldError(field=field, message=str(exc))]
    if not isinstance(values, Mapping):
        return [
            FieldError(
                field=field,
                message=f'must be an object {{period: value}}, e.g. {{"2026-01-01.2100-12-31": '
                f"{_example_value(leaf)}}}; got {_describe(values)}",
            )
        ]
    if not values:
        return [
            FieldError(field=field, message="has no periods: give at least one {period: value}")
        ]
    if len(values) > MAX_PERIODS:
        return [
            FieldError(field=field, message=f"has {len(values)} periods; at most {MAX_PERIODS}")
        ]
    errors: list[FieldError] = []
    keys_by_start: dict[date, list[str]] = {}
    for key, value in values.items():
        where = f'{field}["{key}"]'
        try:
            keys_by_start.setdefault(period_start(str(key)), []).append(str(key))
        except PeriodKeyError as exc:
            errors.append(FieldError(field=where, message=str(exc)))
        problem = value_problem(leaf, value)
        if problem is not None:
            errors.append(FieldError(field=where, message=problem))
    errors.extend(_same_start_errors(field, keys_by_start))
    if not errors:
        try:
            tree.apply(path, values)
        except ReformApplicationError as exc:
            errors.append(FieldError(field=field, message=str(exc)))
    return errors


def _same_start_errors(field: str, keys_by_start: dict[date, list[str]]) -> list[FieldError]:
    """Periods sharing a start: `from_dict` would let their order decide, and JSON objects
    (and Postgres, and the content hash) do not keep order."""
    errors = []
    for start, keys in keys_by_start.items():
        if len(keys) > 1:
            quoted = " and ".join(f'"{key}"' for key in keys)
            errors.append(
                FieldError(
                    field=field,
                    message=f"periods {quoted} start on the same day ({start.isoformat()}): "
                    "which one applies would depend on their order; give one period per start",
                )
            )
    return errors


def value_problem(leaf: ParameterLeaf, value: Any) -> str | None:
    """Why `value` cannot be a value of `leaf`, or None if it can."""
    if value is None:
        return f"a value is required, not null (e.g. {_example_value(leaf)})"
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number: JSON has no NaN or Infinity"
    kind = kind_of(value)
    if kind is leaf.kind:
        return _items_problem(leaf, value) if kind is ValueKind.LIST else None
    expected = _expected(leaf)
    if leaf.kind is ValueKind.NUMBER and isinstance(value, str) and _is_infinity(value):
        return (
            f"{expected}, not the string {value!r}: PolicyEngine reforms take numbers only and "
            "JSON has no infinity; for no limit, give a number beyond any amount it can meet "
            "(e.g. 1e12)"
        )
    return f"{expected}; got {_describe(value)}"


def _items_problem(leaf: ParameterLeaf, items: list[Any]) -> str | None:
    for position, item in enumerate(items):
        kind = kind_of(item)
        if kind is None or kind is ValueKind.LIST:
            return f"item [{position}] must be a string, number or boolean; got {_describe(item)}"
        if isinstance(item, float) and not math.isfinite(item):
            return f"item [{position}] must be a finite number: JSON has no NaN or Infinity"
        if leaf.item_kind is not None and kind is not leaf.item_kind:
            return (
                f"item [{position}]: this list holds {_PLURALS[leaf.item_kind]}; "
                f"got {_describe(item)}"
            )
    return None


def _expected(leaf: ParameterLeaf) -> str:
    unit = f" ({leaf.unit})" if leaf.unit and leaf.kind is ValueKind.NUMBER else ""
    if leaf.kind is ValueKind.BOOLEAN:
        return "takes true or false"
    if leaf.kind is ValueKind.LIST:
        items = f" of {_PLURALS[leaf.item_kind]}" if leaf.item_kind else ""
        return f"takes an array{items}"
    return f"takes a number{unit}"


def _example_value(leaf: ParameterLeaf) -> str:
    return {ValueKind.BOOLEAN: "true", ValueKind.LIST: "[...]"}.get(leaf.kind, "3000")


def _is_infinity(text: str) -> bool:
    return text.strip().lower() in _INFINITIES


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    kind = kind_of(value)
    name = _JSON_NAMES[kind] if kind is not None else "an object"
    shown = json.dumps(value, ensure_ascii=False, default=str)
    return f"{name} ({shown[:40]}{'...' if len(shown) > 40 else ''})"
