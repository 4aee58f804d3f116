"""Fixtures and helpers of the dataset service's API tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.dataset.main import create_app
from shared.settings import Settings
from tests.service.schemas import migrated_afresh

PATH = "/api/v1/datasets"
SMALL_LIMIT = 200_000


@pytest.fixture(scope="module")
def dataset_settings(settings: Settings) -> Settings:
    """The dataset schema alone, dropped and migrated afresh for this module."""
    return migrated_afresh(settings, "dataset")


@pytest.fixture(scope="module")
async def admin(dataset_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(make_url(dataset_settings.database_url))
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
async def api(dataset_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(dataset_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dataset") as client:
            yield client


@pytest.fixture(scope="module")
async def small_api(dataset_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The service with a small upload limit, to refuse oversize uploads cheaply."""
    app = create_app(dataset_settings.model_copy(update={"upload_max_bytes": SMALL_LIMIT}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dataset") as client:
            yield client


@pytest.fixture(scope="module")
async def synthetic(api: httpx.AsyncClient) -> dict[str, Any]:
    """One small synthetic dataset shared by the read-only tests."""
    answer = await api.post(
        f"{PATH}/synthetic", json={"name": "small", "households": 40, "seed": 7, "year": 2025}
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.fixture(scope="module")
async def synthetic_zip(api: httpx.AsyncClient, synthetic: dict[str, Any]) -> bytes:
    answer = await api.get(f"{PATH}/{synthetic['id']}/download")
    assert answer.status_code == 200, answer.text
    return answer.content


async def stored_state(admin: AsyncEngine, settings: Settings) -> tuple[int, int, int]:
    """Rows, outbox rows and stored files: what a refused upload must leave as it was."""
    async with admin.connect() as connection:
        rows = await connection.scalar(sa.text("SELECT count(*) FROM dataset.datasets"))
        events = await connection.scalar(sa.text("SELECT count(*) FROM dataset.outbox"))
    root = settings.data_dir / "datasets"
    files = sum(1 for _ in root.rglob("*")) if root.exists() else 0
    return int(rows or 0), int(events or 0), files
