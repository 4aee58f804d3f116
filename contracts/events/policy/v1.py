"""Policy events, version 1."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

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


class PolicyDeleted(EventPayload):
    """A policy was deleted: it is gone from the API and takes no new simulations."""

    event_type: ClassVar[str] = "policy.deleted"

    policy_id: str
    deleted_at: datetime
