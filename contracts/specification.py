"""Machine-readable contracts of Fiscus's events: JSON Schemas and an AsyncAPI 3.0 document.

Each event version has a JSON Schema of its whole CloudEvents envelope, with the
payload's schema as `data`. The AsyncAPI document comes from a documentation-only
FastStream broker that publishes every event type on the events exchange and declares
every queue the services consume (their event consumers' queues, a process's own feed,
request queues); it never connects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Union, cast

from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.specification import AsyncAPI
from pydantic import BaseModel, ConfigDict, Field, create_model

from contracts.envelope import EventPayload

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
EVENTS_EXCHANGE = "fiscus.events"
CONTENT_TYPE = "application/cloudevents+json"
# Where the documentation says the broker is; only a placeholder for readers.
DOCUMENTED_SERVER = "amqp://localhost:5672/"


QueueKind = Literal["events", "feed", "requests"]


@dataclass(frozen=True)
class Subscription:
    """A queue a Fiscus process consumes.

    `events`: a durable consumer queue bound to the event type `routing_key`; `feed`: a
    queue each process declares for itself, bound to the pattern `routing_key`; `requests`:
    a request/reply queue published to directly, `routing_key` its own name.
    `description` says what the messages hold when they are not events.
    """

    service: str
    queue: str
    routing_key: str
    kind: QueueKind = "events"
    description: str = ""


def schema_file_name(payload: type[EventPayload]) -> str:
    """The file of one event version's JSON Schema, e.g. `simulation.completed.v1.json`."""
    return f"{payload.event_type}.v{payload.version}.json"


def _subject_is_a_string(schema: dict[str, Any]) -> None:
    # An absent subject is left out of the JSON, never null (see CloudEvent's serializer).
    schema["properties"]["subject"] = {
        "type": "string",
        "description": "The resource the event is about (a simulation, dataset, ... id).",
    }


def _constant(value: str) -> Any:
    """The type `Literal[value]` of a value known only at run time."""
    return cast(Any, Literal)[value]


def event_model(payload: type[EventPayload]) -> type[BaseModel]:
    """The envelope of one event version as a pydantic model, for documentation only."""
    # A version-suffixed name keeps v1 and v2 apart where schemas share one namespace.
    data_model = cast(
        type[BaseModel],
        type(
            f"{payload.__name__}V{payload.version}",
            (payload,),
            {"__doc__": payload.__doc__, "__module__": payload.__module__},
        ),
    )
    model: type[BaseModel] = create_model(
        f"{payload.__name__}V{payload.version}Event",
        __config__=ConfigDict(extra="ignore", json_schema_extra=_subject_is_a_string),
        __doc__=(
            f"`{payload.event_type}` version {payload.version}: a CloudEvents 1.0 event in "
            f"structured JSON mode (content type {CONTENT_TYPE}). "
            f"{(payload.__doc__ or '').strip()}"
        ),
        specversion=(_constant("1.0"), Field(description="CloudEvents version.")),
        id=(
            str,
            Field(description="Unique per event; a redelivery repeats it: deduplicate on it."),
        ),
        source=(str, Field(description="The emitting service, e.g. `/fiscus/simulation`.")),
        type=(_constant(payload.event_type), Field(description="Event type = routing key.")),
        subject=(str | None, None),
        time=(datetime, Field(description="When the event happened (RFC 3339).")),
        datacontenttype=(_constant("application/json"), Field(description="Media type of data.")),
        dataschema=(
            _constant(payload.schema_uri()),
            Field(description="Names the payload's schema; a new version has a new URI."),
        ),
        data=(data_model, Field(description="The payload.")),
    )
    return model


def event_json_schema(payload: type[EventPayload]) -> dict[str, Any]:
    """The JSON Schema (2020-12) of one event version's CloudEvents envelope."""
    schema = event_model(payload).model_json_schema()
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def _documented_handler(model: type[BaseModel]) -> Any:
    async def handle(event: Any) -> None:
        """Documentation only: never called."""

    # FastStream reads the message schema from the handler's signature.
    handle.__annotations__ = {"event": model, "return": None}
    return handle


def topic_matches(pattern: str, routing_key: str) -> bool:
    """Whether a topic exchange routes `routing_key` to a queue bound with `pattern`
    (`*` one word, `#` any number of words)."""

    def match(pattern_words: list[str], words: list[str]) -> bool:
        if not pattern_words:
            return not words
        first, rest = pattern_words[0], pattern_words[1:]
        if first == "#":
            return any(match(rest, words[skip:]) for skip in range(len(words) + 1))
        return bool(words) and first in ("*", words[0]) and match(rest, words[1:])

    return match(pattern.split("."), routing_key.split("."))


def _documented_queue(
    broker: RabbitBroker,
    exchange: RabbitExchange,
    subscription: Subscription,
    models: dict[str, type[BaseModel]],
) -> None:
    """A subscriber of the documentation broker for one queue a service consumes."""
    queue, key = subscription.queue, subscription.routing_key
    if subscription.kind == "requests":
        subscriber = broker.subscriber(
            RabbitQueue(queue, queue_type=QueueType.QUORUM, durable=True, routing_key=key),
            title=queue,
            description=(
                f"Durable quorum queue of the {subscription.service} service, request/reply: "
                "published to directly (the default exchange) with `reply_to` and a "
                "correlation id; requests that keep failing are dead-lettered to "
                f"`{queue}.dlq`. {subscription.description}"
            ).strip(),
        )
        subscriber(_documented_handler(cast(type[BaseModel], dict[str, Any])))
        return
    if subscription.kind == "feed":
        matching = [model for event_type, model in models.items() if topic_matches(key, event_type)]
        if not matching:
            raise ValueError(f"{queue} follows no event type")
        subscriber = broker.subscriber(
            RabbitQueue(queue, durable=False, exclusive=True, auto_delete=True, routing_key=key),
            exchange,
            title=queue,
            description=(
                f"A queue each {subscription.service} process declares for itself, named "
                f"`{queue}.` and a random suffix, bound to `{key}`: non-durable, exclusive, "
                "deleted with the process's connection; nothing is kept or retried. "
                f"{subscription.description}"
            ).strip(),
        )
        subscriber(_documented_handler(cast(type[BaseModel], Union[tuple(matching)])))  # noqa: UP007
        return
    if key not in models:
        raise ValueError(f"{queue} consumes an unknown event type")
    subscriber = broker.subscriber(
        RabbitQueue(queue, queue_type=QueueType.QUORUM, durable=True, routing_key=key),
        exchange,
        title=queue,
        description=(
            f"Durable quorum queue of the {subscription.service} service, bound to "
            f"`{key}`; messages that keep failing are dead-lettered to `{queue}.dlq`."
        ),
    )
    subscriber(_documented_handler(models[key]))


def documentation_broker(
    payloads: Iterable[type[EventPayload]], subscriptions: Iterable[Subscription]
) -> RabbitBroker:
    """A broker that is never connected: a publisher per event type, a subscriber per queue."""
    broker = RabbitBroker(DOCUMENTED_SERVER)
    exchange = RabbitExchange(EVENTS_EXCHANGE, type=ExchangeType.TOPIC, durable=True)
    models: dict[str, type[BaseModel]] = {}
    for payload in payloads:
        model = event_model(payload)
        models[payload.event_type] = model
        broker.publisher(
            payload.event_type,
            exchange,
            title=payload.event_type,
            description=(
                f"Routing key `{payload.event_type}` on the topic exchange `{EVENTS_EXCHANGE}`; "
                f"dataschema `{payload.schema_uri()}`. {(payload.__doc__ or '').strip()}"
            ),
            schema=model,
            persist=True,
        )
    for subscription in subscriptions:
        _documented_queue(broker, exchange, subscription, models)
    return broker


def asyncapi_document(
    payloads: Iterable[type[EventPayload]], subscriptions: Iterable[Subscription]
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the events exchange, its event types and the queues
    the services consume."""
    specification = AsyncAPI(
        documentation_broker(payloads, subscriptions),
        title="Fiscus events",
        version="1",
        description=(
            f"Every Fiscus event is a CloudEvents 1.0 event in structured JSON mode "
            f"({CONTENT_TYPE}) on the durable topic exchange `{EVENTS_EXCHANGE}`, routed by "
            "its type. Subscribers bind their own durable queue; consumers ignore unknown "
            "fields; a breaking change is a new version with a new `dataschema`."
        ),
        schema_version="3.0.0",
    ).to_specification()
    document: dict[str, Any] = specification.to_jsonable()
    # What the outbox relay sets on every message; FastStream assumes plain JSON.
    document["defaultContentType"] = CONTENT_TYPE
    return document
