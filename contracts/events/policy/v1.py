"""Policy events, version 1."""

from __future__ import annotations

from typing import Any, ClassVar

from contracts.envelope import EventPayload


class PolicyCreated(EventPayload):
    """A reform was validated and stored; `data` is in PolicyEngine's reform format."""

    event_type: ClassVar[str] = "policy.created"

    policy_id: str
    name: str
    sha256: str
    data: dict[str, dict[str, Any]]
