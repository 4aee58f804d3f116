"""What identifies a policy's content: its canonical JSON and that JSON's SHA-256."""

from __future__ import annotations

import hashlib
import json
from typing import Any

# Integral floats up to this size are written as integers, so that 3000 and 3000.0
# (the same reform to PolicyEngine) have the same hash.
_EXACT_INTEGERS = 2**53


def canonical_json(data: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8, integral floats as integers; NaN and Infinity refused."""
    return json.dumps(
        _normalised(data),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode()


def content_hash(data: Any) -> str:
    """The SHA-256 (hex) of the canonical JSON of a reform's `data`."""
    return hashlib.sha256(canonical_json(data)).hexdigest()


def _normalised(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _normalised(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalised(item) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) <= _EXACT_INTEGERS:
        return int(value)
    return value
