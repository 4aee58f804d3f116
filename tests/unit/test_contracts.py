"""The CloudEvents envelope and the versioned payloads."""

from __future__ import annotations

import pytest

from contracts.catalog import EVENT_PAYLOADS, PAYLOAD_BY_TYPE
from contracts.envelope import CloudEvent
from contracts.events.dataset.v1 import DatasetRegistered
from contracts.events.policy.v1 import PolicyCreated


def registered() -> DatasetRegistered:
    return DatasetRegistered(
        dataset_id="d1",
        name="n",
        storage_uri="file:///x",
        sha256="a" * 64,
        year=2025,
        households=10,
        people=25,
        states=["CA"],
    )


def test_wrap_fills_the_cloudevents_attributes() -> None:
    event = CloudEvent.wrap(registered(), source="/fiscus/dataset", subject="d1")
    document = event.model_dump(mode="json")
    assert document["specversion"] == "1.0"
    assert document["type"] == "dataset.registered"
    assert document["source"] == "/fiscus/dataset"
    assert document["subject"] == "d1"
    assert document["datacontenttype"] == "application/json"
    assert document["dataschema"] == "urn:fiscus:schema:dataset.registered:v1"
    assert document["id"] and document["time"]


def test_round_trip_and_unknown_fields_are_ignored() -> None:
    event = CloudEvent.wrap(registered(), source="/s")
    document = event.model_dump(mode="json")
    document["data"]["added_in_a_later_minor_version"] = 1
    document["extension_attribute"] = "x"
    parsed = CloudEvent.model_validate(document)
    assert parsed.payload(DatasetRegistered) == registered()


def test_payload_refuses_the_wrong_type() -> None:
    event = CloudEvent.wrap(registered(), source="/s")
    with pytest.raises(ValueError, match=r"dataset\.registered"):
        event.payload(PolicyCreated)


def test_catalog_has_unique_event_types() -> None:
    assert len(PAYLOAD_BY_TYPE) == len(EVENT_PAYLOADS)
    for payload in EVENT_PAYLOADS:
        assert payload.__doc__, f"{payload.__name__} needs a docstring"


def test_the_cloudevents_sdk_reads_our_envelope() -> None:
    from cloudevents.core.formats.json import JSONFormat
    from cloudevents.core.v1.event import CloudEvent as SdkCloudEvent

    event = CloudEvent.wrap(registered(), source="/fiscus/dataset")  # no subject
    document = event.model_dump(mode="json")
    assert "subject" not in document
    parsed = JSONFormat().read(SdkCloudEvent, event.model_dump_json().encode())
    assert parsed.get_id() == event.id
    assert parsed.get_type() == "dataset.registered"
    assert parsed.get_source() == "/fiscus/dataset"
    assert parsed.get_data() == registered().model_dump(mode="json")
