"""Policy events, version 1."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from contracts.envelope import EventPayload


class PolicyCreated(EventPayload):
    """A reform was validated and stored; `data` is in PolicyEngine's reform format."""

    event_type: ClassVar[str] = "policy.created"

    policy_id: str
    name: str
    sha256: str
    data: dict[str, dict[str, Any]]
    # Added in v1 (optional): the caller the policy belongs to; None when stored from
    # inside the deployment.
    owner: str | None = None
    # Added in v1 (optional): `public` when anyone may find and simulate it.
    visibility: Literal["private", "public"] = "private"


class PolicyDeleted(EventPayload):
    """A policy was deleted: it is gone from the API and takes no new simulations."""

    event_type: ClassVar[str] = "policy.deleted"

    policy_id: str
    deleted_at: datetime


class PolicyVisibilityChanged(EventPayload):
    """A policy's owner made it public (anyone may find and simulate it) or private again.

    Simulations already accepted on it are not affected.
    """

    event_type: ClassVar[str] = "policy.visibility.changed"

    policy_id: str
    visibility: Literal["private", "public"]
    changed_at: datetime
