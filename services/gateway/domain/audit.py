"""What an audit-log entry says about a change: which resource it touched."""

from __future__ import annotations

from dataclasses import dataclass

from services.gateway.domain.auth import WRITE_METHODS

API_PREFIX = "/api/v1/"
# Path segments after a collection that name an action on it, not a resource.
COLLECTION_ACTIONS = frozenset({"batch", "synthetic"})


@dataclass(frozen=True)
class Touched:
    """The collection a change was sent to, and the id of the resource, when known."""

    resource_type: str | None
    resource_id: str | None


def is_audited(method: str) -> bool:
    """Every change is audited: POST, PUT, PATCH and DELETE."""
    return method.upper() in WRITE_METHODS


def _segments(path: str) -> list[str]:
    if not path.startswith(API_PREFIX):
        return []
    return [part for part in path[len(API_PREFIX) :].split("/") if part]


def touched(path: str, location: str | None) -> Touched:
    """The resource of `path`, or of the answer's `Location` (a resource just created)."""
    parts = _segments(path)
    if not parts:
        return Touched(None, None)
    collection = parts[0]
    if len(parts) > 1 and parts[1] not in COLLECTION_ACTIONS:
        return Touched(collection, parts[1][:128])
    created = _segments(location or "")
    if len(created) > 1 and created[0] == collection:
        return Touched(collection, created[1][:128])
    return Touched(collection, None)
