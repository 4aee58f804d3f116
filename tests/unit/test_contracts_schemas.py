"""The committed JSON Schemas and AsyncAPI document: up to date, and never broken."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

import jsonschema
import pytest

from contracts import generate
from contracts.catalog import EVENT_PAYLOADS
from contracts.compatibility import breaking_changes
from contracts.envelope import CloudEvent, EventPayload
from contracts.events.simulation.v1 import ResultFile, SimulationCompleted
from contracts.specification import event_json_schema, schema_file_name


@pytest.fixture(scope="module")
def expected() -> dict[Any, str]:
    return generate.expected_files()


def test_committed_files_are_what_the_code_generates(expected: dict[Any, str]) -> None:
    assert generate.differences(expected) == [], "run `make docs` and commit the files"


@pytest.mark.parametrize(
    "committed", sorted(generate.SCHEMAS_DIR.glob("*.json")), ids=lambda path: path.name
)
def test_committed_versions_are_not_broken(committed: Any, expected: dict[Any, str]) -> None:
    assert committed in expected, f"{committed.name}: an event version may not be removed"
    changes = breaking_changes(json.loads(committed.read_text()), json.loads(expected[committed]))
    assert changes == [], f"{committed.name}: breaking changes need a new version (v2)"


def test_every_event_version_has_a_schema_file() -> None:
    names = {path.name for path in generate.SCHEMAS_DIR.glob("*.json")}
    assert {schema_file_name(payload) for payload in EVENT_PAYLOADS} <= names


def test_a_published_envelope_validates_against_its_schema() -> None:
    payload = SimulationCompleted(
        simulation_id="s1",
        dataset_id="d1",
        policy_id="p1",
        year=2025,
        results=[ResultFile(uri="file:///r/households.parquet", sha256="a" * 64, rows=3)],
        model_version="1.0",
        dataset_sha256="b" * 64,
        started_at=datetime(2025, 1, 1, tzinfo=UTC),
        completed_at=datetime(2025, 1, 1, 0, 1, tzinfo=UTC),
        seconds=60.0,
    )
    for subject in ("s1", None):
        document = CloudEvent.wrap(payload, source="/fiscus/simulation", subject=subject)
        schema = json.loads((generate.SCHEMAS_DIR / "simulation.completed.v1.json").read_text())
        jsonschema.validate(document.model_dump(mode="json"), schema)
    wrong = CloudEvent.wrap(payload, source="/s").model_dump(mode="json")
    wrong["data"]["year"] = "2025"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(wrong, schema)


def test_asyncapi_lists_every_event_type_and_the_services_queues(
    expected: dict[Any, str],
) -> None:
    document = json.loads(expected[generate.ASYNCAPI_FILE])
    assert document["asyncapi"] == "3.0.0"
    channels = document["channels"]
    for payload in EVENT_PAYLOADS:
        channel = channels[payload.event_type]
        assert channel["address"] == payload.event_type
        assert channel["bindings"]["amqp"]["exchange"]["name"] == "fiscus.events"
        assert document["operations"][payload.event_type]["action"] == "send"
    queue = channels["aggregation.simulation-completed"]
    assert queue["address"] == "simulation.completed"
    assert queue["bindings"]["amqp"]["queue"]["durable"] is True
    assert document["operations"]["simulation.requests"]["action"] == "receive"
    assert "SimulationCompletedV1Event" in document["components"]["schemas"]


# The guard itself, on variants of one payload.


class Base(EventPayload):
    event_type: ClassVar[str] = "thing.happened"

    thing_id: str
    count: int
    note: str | None = None


class AddsOptional(Base):
    extra: list[str] | None = None


class AddsRequired(Base):
    extra: int


class Retyped(EventPayload):
    event_type: ClassVar[str] = "thing.happened"

    thing_id: str
    count: float
    note: str | None = None


class Renamed(EventPayload):
    event_type: ClassVar[str] = "thing.happened"

    thing_id: str
    total: int
    note: str | None = None


class MadeRequired(EventPayload):
    event_type: ClassVar[str] = "thing.happened"

    thing_id: str
    count: int
    note: str


class NestedBase(Base):
    files: list[ResultFile]


class NestedFile(ResultFile):
    size: int


class NestedRetyped(Base):
    files: list[NestedFile]


def changes(old: type[EventPayload], new: type[EventPayload]) -> list[str]:
    return breaking_changes(event_json_schema(old), event_json_schema(new))


def test_the_same_or_an_added_optional_field_is_compatible() -> None:
    assert changes(Base, Base) == []
    assert changes(Base, AddsOptional) == []


@pytest.mark.parametrize(
    ("new", "expected_change"),
    [
        (AddsRequired, "data.extra: new required field"),
        (Retyped, "data.count: retyped"),
        (Renamed, "data.count: removed (or renamed)"),
        (MadeRequired, "data.note: was optional, is required"),
    ],
)
def test_breaking_changes_are_found(new: type[EventPayload], expected_change: str) -> None:
    found = changes(Base, new)
    assert any(change.startswith(expected_change) for change in found), found


def test_a_change_inside_a_nested_model_is_found() -> None:
    found = changes(NestedBase, NestedRetyped)
    assert found == ["data.files[].size: new required field"]
