"""The dataset service's API on the real Postgres, storage and RabbitMQ."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from typing import Any

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import CloudEvent
from contracts.events.dataset.v1 import DatasetRegistered
from shared.population import ENTITIES, content_sha256, file_name, read_population_files
from shared.settings import Settings
from shared.states import POSTAL_CODE_BY_FIPS
from tests.problems import assert_problem
from tests.service.bus import event_tap
from tests.service.dataset_fixtures import PATH, stored_state


async def test_a_synthetic_dataset_is_stored_with_its_event_in_one_transaction(
    api: httpx.AsyncClient, admin: AsyncEngine, dataset_settings: Settings
) -> None:
    answer = await api.post(
        f"{PATH}/synthetic", json={"name": " first ", "households": 25, "seed": 3}
    )
    assert answer.status_code == 201, answer.text
    dataset = answer.json()
    assert answer.headers["location"] == f"{PATH}/{dataset['id']}"
    assert dataset["name"] == "first"
    assert (dataset["source"], dataset["seed"], dataset["year"]) == ("synthetic", 3, 2025)
    assert dataset["households"] == 25
    assert dataset["people"] >= 25
    root = f"{dataset_settings.resolved_storage_url}/datasets/{dataset['id']}"
    assert dataset["storage_uri"] == root

    files = read_population_files(root)
    assert content_sha256(files) == dataset["sha256"]
    assert sum(len(data) for data in files.values()) == dataset["size_bytes"]
    person = pd.read_parquet(io.BytesIO(files["person"]))
    household = pd.read_parquet(io.BytesIO(files["household"]))
    assert len(person) == dataset["people"]
    assert len(household) == 25
    assert dataset["states"] == sorted({POSTAL_CODE_BY_FIPS[f] for f in household["state_fips"]})

    async with admin.connect() as connection:
        row = (
            await connection.execute(
                sa.text("SELECT * FROM dataset.datasets WHERE id = :id"), {"id": dataset["id"]}
            )
        ).one()
        outbox = (
            await connection.execute(
                sa.text("SELECT * FROM dataset.outbox WHERE envelope->>'subject' = :id"),
                {"id": dataset["id"]},
            )
        ).all()
    assert row.sha256 == dataset["sha256"]
    assert len(outbox) == 1
    # now() is the transaction's start: equal stamps mean one transaction wrote both.
    assert outbox[0].created_at == row.created_at
    event = CloudEvent.model_validate(outbox[0].envelope)
    assert (event.type, event.source) == ("dataset.registered", "/fiscus/dataset")
    assert event.payload(DatasetRegistered) == DatasetRegistered(
        dataset_id=dataset["id"],
        name="first",
        storage_uri=root,
        sha256=dataset["sha256"],
        year=2025,
        households=25,
        people=dataset["people"],
        states=dataset["states"],
    )


async def test_the_same_synthetic_population_gets_a_new_id_and_the_same_hash(
    api: httpx.AsyncClient, synthetic: dict[str, Any]
) -> None:
    again = await api.post(
        f"{PATH}/synthetic", json={"name": "again", "households": 40, "seed": 7, "year": 2025}
    )
    assert again.status_code == 201
    assert again.json()["id"] != synthetic["id"]
    assert again.json()["sha256"] == synthetic["sha256"]
    other_seed = await api.post(
        f"{PATH}/synthetic", json={"name": "x", "households": 40, "seed": 8}
    )
    assert other_seed.json()["sha256"] != synthetic["sha256"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"households": 10}, "body.name"),
        ({"name": "x", "households": 0}, "body.households"),
        ({"name": "x", "households": 200_001}, "body.households"),
        ({"name": "x", "seed": -1}, "body.seed"),
        ({"name": "x", "year": 1900}, "body.year"),
        ({"name": "x", "household": 10}, "body.household"),
    ],
)
async def test_a_bad_synthetic_request_is_refused(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    problem = assert_problem(await api.post(f"{PATH}/synthetic", json=body), 422)
    assert field in [error["field"] for error in problem["errors"]]


async def test_a_dataset_can_be_read_and_listed_newest_first(
    api: httpx.AsyncClient, synthetic: dict[str, Any]
) -> None:
    answer = await api.get(f"{PATH}/{synthetic['id']}")
    assert answer.status_code == 200
    assert answer.json() == synthetic

    newer = (await api.post(f"{PATH}/synthetic", json={"name": "newer", "households": 3})).json()
    first_page = await api.get(PATH, params={"limit": 1})
    assert first_page.status_code == 200
    assert [d["id"] for d in first_page.json()["items"]] == [newer["id"]]
    seen = [newer["id"]]
    cursor = first_page.json()["next_cursor"]
    while cursor is not None:
        page = (await api.get(PATH, params={"limit": 2, "cursor": cursor})).json()
        seen.extend(d["id"] for d in page["items"])
        cursor = page["next_cursor"]
    everything = (await api.get(PATH, params={"limit": 100})).json()
    assert seen == [d["id"] for d in everything["items"]]
    assert synthetic["id"] in seen
    stamps = [d["created_at"] for d in everything["items"]]
    assert stamps == sorted(stamps, reverse=True)

    problem = assert_problem(await api.get(PATH, params={"cursor": "garbage!"}), 422)
    assert problem["errors"][0]["field"] == "cursor"


async def test_an_unknown_dataset_is_not_found(api: httpx.AsyncClient) -> None:
    unknown = str(uuid.uuid4())
    for path in (f"{PATH}/{unknown}", f"{PATH}/{unknown}/download"):
        problem = assert_problem(await api.get(path), 404)
        assert unknown in problem["detail"]


async def test_the_download_holds_the_stored_files(
    api: httpx.AsyncClient, synthetic: dict[str, Any]
) -> None:
    answer = await api.get(f"{PATH}/{synthetic['id']}/download")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["x-content-sha256"] == synthetic["sha256"]
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="dataset-{synthetic["id"]}.zip"'
    )
    stored = read_population_files(synthetic["storage_uri"])
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == sorted(file_name(e) for e in ENTITIES)
        downloaded = {e: archive.read(file_name(e)) for e in ENTITIES}
    assert downloaded == stored
    assert content_sha256(downloaded) == synthetic["sha256"]


async def test_an_uploaded_download_registers_with_the_same_hash(
    api: httpx.AsyncClient,
    admin: AsyncEngine,
    dataset_settings: Settings,
    synthetic: dict[str, Any],
    synthetic_zip: bytes,
) -> None:
    rows, events, files = await stored_state(admin, dataset_settings)
    answer = await api.post(
        PATH,
        data={"name": "round trip", "year": "2026"},
        files={"file": ("population.zip", synthetic_zip, "application/zip")},
    )
    assert answer.status_code == 201, answer.text
    uploaded = answer.json()
    assert answer.headers["location"] == f"{PATH}/{uploaded['id']}"
    assert uploaded["id"] != synthetic["id"]
    assert (uploaded["source"], uploaded["seed"], uploaded["year"]) == ("upload", None, 2026)
    for key in ("sha256", "households", "people", "states", "size_bytes"):
        assert uploaded[key] == synthetic[key]
    assert read_population_files(uploaded["storage_uri"]) == read_population_files(
        synthetic["storage_uri"]
    )
    assert await stored_state(admin, dataset_settings) == (rows + 1, events + 1, files + 9)
    async with admin.connect() as connection:
        envelope = await connection.scalar(
            sa.text("SELECT envelope FROM dataset.outbox WHERE envelope->>'subject' = :id"),
            {"id": uploaded["id"]},
        )
    payload = CloudEvent.model_validate(envelope).payload(DatasetRegistered)
    assert (payload.name, payload.year, payload.sha256) == ("round trip", 2026, synthetic["sha256"])


async def test_the_relay_publishes_dataset_registered_to_the_events_exchange(
    api: httpx.AsyncClient, dataset_settings: Settings
) -> None:
    async with event_tap(
        dataset_settings.amqp_url,
        DatasetRegistered.event_type,
        exchange=dataset_settings.events_exchange,
    ) as tap:
        answer = await api.post(f"{PATH}/synthetic", json={"name": "announced", "households": 5})
        assert answer.status_code == 201
        dataset = answer.json()

        message = await tap.message_about(dataset["id"])
    assert message.content_type == "application/cloudevents+json"
    assert message.routing_key == "dataset.registered"
    event = CloudEvent.model_validate(json.loads(message.body))
    assert message.message_id == event.id
    assert (event.specversion, event.type, event.source, event.subject) == (
        "1.0",
        "dataset.registered",
        "/fiscus/dataset",
        dataset["id"],
    )
    assert event.dataschema == DatasetRegistered.schema_uri()
    payload = event.payload(DatasetRegistered)
    assert (payload.dataset_id, payload.sha256, payload.households, payload.states) == (
        dataset["id"],
        dataset["sha256"],
        5,
        dataset["states"],
    )
