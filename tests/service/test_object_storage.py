"""Datasets and results in S3-compatible object storage: a real S3 server (moto's), s3fs.

The server is moto's standalone S3 server on a loopback port; Fiscus reaches it through
its ordinary configuration: `FISCUS_STORAGE_URL=s3://bucket/prefix` and the standard AWS
variables (`AWS_ENDPOINT_URL_S3`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
"""

from __future__ import annotations

import io
import socket
import zipfile
from collections.abc import AsyncIterator, Iterator

import boto3
import httpx
import pandas as pd
import pytest
import s3fs
from moto.server import ThreadedMotoServer

from services.dataset.main import create_app
from shared import storage
from shared.population import (
    ENTITIES,
    content_sha256,
    file_name,
    read_population,
    read_population_files,
    to_parquet_bytes,
)
from shared.settings import Settings
from tests.service.schemas import migrated_afresh

BUCKET = "fiscus-objects"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API on loopback, with one bucket; the AWS variables point at it."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("AWS_ENDPOINT_URL_S3", endpoint)
        environment.setenv("AWS_ACCESS_KEY_ID", "fiscus-test")
        environment.setenv("AWS_SECRET_ACCESS_KEY", "fiscus-test-secret")
        environment.setenv("AWS_DEFAULT_REGION", "us-east-1")
        s3fs.S3FileSystem.clear_instance_cache()
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield endpoint
        s3fs.S3FileSystem.clear_instance_cache()
    server.stop()


def object_keys(prefix: str) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_objects_round_trip_through_s3(s3_endpoint: str) -> None:
    uri = f"s3://{BUCKET}/probe/nested/object.bin"
    assert not storage.exists(uri)
    storage.write_bytes(uri, b"fiscus" * 1000)
    assert storage.exists(uri)
    assert storage.read_bytes(uri) == b"fiscus" * 1000
    assert len(storage.sha256_of(uri)) == 64
    storage.write_bytes(uri, b"replaced")
    assert storage.read_bytes(uri) == b"replaced"
    # Through the S3 API itself, not only through our own reader.
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key="probe/nested/object.bin")["Body"]
    assert body.read() == b"replaced"


@pytest.fixture(scope="module")
def s3_settings(settings: Settings, s3_endpoint: str) -> Settings:
    """The dataset schema migrated afresh; datasets stored under an S3 URL."""
    return migrated_afresh(settings, "dataset").model_copy(
        update={"storage_url": f"s3://{BUCKET}/fiscus"}
    )


@pytest.fixture(scope="module")
async def dataset_api(s3_settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    configured = s3_settings
    app = create_app(configured)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://dataset",
            headers={"x-fiscus-principal": "tests:admin"},
        ) as client:
            yield client, configured


async def test_a_dataset_registered_with_s3_storage_lives_in_the_bucket(
    dataset_api: tuple[httpx.AsyncClient, Settings],
) -> None:
    api, configured = dataset_api
    assert configured.resolved_storage_url == f"s3://{BUCKET}/fiscus"
    answer = await api.post(
        "/api/v1/datasets/synthetic",
        json={"name": "in s3", "households": 100, "seed": 1, "year": 2025},
    )
    assert answer.status_code == 201, answer.text
    dataset = answer.json()
    assert dataset["storage_uri"] == f"s3://{BUCKET}/fiscus/datasets/{dataset['id']}"
    keys = object_keys(f"fiscus/datasets/{dataset['id']}/")
    assert keys == sorted(f"fiscus/datasets/{dataset['id']}/{file_name(e)}" for e in ENTITIES)

    stored = read_population_files(dataset["storage_uri"])
    assert content_sha256(stored) == dataset["sha256"]
    population = read_population(dataset["storage_uri"])
    assert len(population["household"]) == 100

    download = await api.get(f"/api/v1/datasets/{dataset['id']}/download")
    assert download.status_code == 200, download.text
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert {e: archive.read(file_name(e)) for e in ENTITIES} == stored


def test_results_are_written_and_read_back_through_s3(s3_endpoint: str) -> None:
    households = pd.DataFrame(
        {"household_id": [1, 2, 3], "household_net_income": [52_000.5, 18_250.0, 97_400.25]}
    )
    uri = storage.join(f"s3://{BUCKET}/fiscus", "results", "sim-1", "households.parquet")
    storage.write_bytes(uri, to_parquet_bytes(households))
    assert object_keys("fiscus/results/sim-1/") == ["fiscus/results/sim-1/households.parquet"]
    read_back = pd.read_parquet(io.BytesIO(storage.read_bytes(uri)))
    pd.testing.assert_frame_equal(read_back, households)
