"""The CloudEvents 1.0 envelope every Fiscus event travels in."""

from __future__ import annotations

import builtins
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer


class EventPayload(BaseModel):
    """Base of every versioned event payload.

    Subclasses set `event_type` (also the routing key) and `version`. Unknown fields
    are ignored so that a producer can add optional fields without breaking consumers.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    version: ClassVar[int] = 1

    @classmethod
    def schema_uri(cls) -> str:
        """The `dataschema` URI naming this payload's JSON Schema."""
        return f"urn:fiscus:schema:{cls.event_type}:v{cls.version}"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event in structured JSON mode."""

    model_config = ConfigDict(extra="ignore")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    subject: str | None = None
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    data: dict[str, Any]
    # The CloudEvents distributed-tracing extension: the W3C trace context of the
    # operation that emitted the event (see shared/tracing.py).
    traceparent: str | None = None
    tracestate: str | None = None

    @model_serializer(mode="wrap")
    def _omit_unset_attributes(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # CloudEvents: an optional attribute without a value is absent, never null.
        document: dict[str, Any] = handler(self)
        return {key: value for key, value in document.items() if value is not None}

    @classmethod
    def wrap(cls, payload: EventPayload, *, source: str, subject: str | None = None) -> Self:
        """Put a payload in a new envelope."""
        return cls(
            source=source,
            type=payload.event_type,
            subject=subject,
            dataschema=payload.schema_uri(),
            data=payload.model_dump(mode="json"),
        )

    def payload(self, model: builtins.type[P]) -> P:
        """Read the data as the given payload model, checking the event type."""
        if self.type != model.event_type:
            raise ValueError(f"event type {self.type!r} is not {model.event_type!r}")
        return model.model_validate(self.data)


P = TypeVar("P", bound=EventPayload)
