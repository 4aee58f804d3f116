"""The aggregation service on the real Postgres and RabbitMQ: budget windows of partitioned
results, raw result downloads, charts and custom aggregates (with aggregate.completed)."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from fastapi import FastAPI
from PIL import Image

from contracts.envelope import CloudEvent
from contracts.events.aggregate.v1 import AggregateCompleted
from contracts.events.report.v1 import ReportCompleted
from contracts.events.simulation.v1 import ResultFile
from services.aggregation.domain.report import build_report
from services.aggregation.main import create_app
from shared import storage
from shared.settings import Settings
from tests.factories import completed_event
from tests.service.bus import event_tap, publish
from tests.service.schemas import migrated_afresh
from tests.unit.aggregation_results import as_json, close, parquet, random_frames
from tests.unit.report_definitions import assert_report_matches

YEARS = (2026, 2027)


@pytest.fixture(scope="module")
def aggregation_settings(settings: Settings) -> Settings:
    return migrated_afresh(settings, "aggregation")


@pytest.fixture(scope="module")
async def client(aggregation_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(aggregation_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://aggregation") as http:
            yield http


def write_partitions(
    root: Path, simulation_id: str, year: int, seed: int, parts: int = 3
) -> tuple[list[ResultFile], pd.DataFrame, pd.DataFrame]:
    """Results of one year split by state into `parts` partitions, as a worker writes them."""
    households, people = random_frames(seed, households=500, race=True)
    states = sorted(households["state_code"].unique())
    files = []
    for part in range(parts):
        mine = households[households["state_code"].isin(states[part::parts])]
        theirs = people[people["household_id"].isin(mine["household_id"])]
        for name, frame in (("households.parquet", mine), ("people.parquet", theirs)):
            data = parquet(frame)
            uri = f"file://{root}/{simulation_id}/{year}/{part}/{name}"
            storage.write_bytes(uri, data)
            files.append(
                ResultFile(
                    uri=uri,
                    sha256=hashlib.sha256(data).hexdigest(),
                    rows=len(frame),
                    name=name,
                    year=year,
                    partition=part,
                )
            )
    return files, households, people


@pytest.fixture(scope="module")
async def window_simulation(
    client: httpx.AsyncClient,
    aggregation_settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[str, dict[int, tuple[pd.DataFrame, pd.DataFrame]]]:
    """A two-year simulation whose partitioned results were announced and reported on."""
    root = tmp_path_factory.mktemp("results")
    simulation_id = f"sim-{uuid.uuid4().hex[:12]}"
    files: list[ResultFile] = []
    frames = {}
    for offset, year in enumerate(YEARS):
        year_files, households, people = write_partitions(root, simulation_id, year, 60 + offset)
        files += year_files
        frames[year] = (households, people)
    event = completed_event(simulation_id, files)
    payload = event.data | {"year": YEARS[0], "years": list(YEARS), "partitions": 6}
    event = event.model_copy(update={"data": payload})
    async with event_tap(aggregation_settings.amqp_url, ReportCompleted.event_type) as tap:
        await publish(aggregation_settings.amqp_url, event)
        await tap.message_about(simulation_id, timeout=60)
    return simulation_id, frames


async def test_a_budget_window_has_a_report_per_year_and_a_window_table(
    client: httpx.AsyncClient,
    window_simulation: tuple[str, dict[int, tuple[pd.DataFrame, pd.DataFrame]]],
) -> None:
    simulation_id, frames = window_simulation
    body = (await client.get(f"/api/v1/simulations/{simulation_id}/report")).json()
    assert body["years"] == list(YEARS) and body["year"] == YEARS[0]
    assert set(body["reports_by_year"]) == {str(year) for year in YEARS}
    for year, (households, people) in frames.items():
        report = body["reports_by_year"][str(year)]
        assert report == as_json(build_report(households, people))
        assert_report_matches(report, households, people)
    assert body["report"] == body["reports_by_year"][str(YEARS[0])]
    window = body["budget_window"]
    assert [row["year"] for row in window["years"]] == list(YEARS)
    total = sum(body["reports_by_year"][str(y)]["budget"]["budgetary_impact"] for y in YEARS)
    assert close(window["total"]["budgetary_impact"], total)


async def test_results_download_is_the_stacked_households_with_their_hash(
    client: httpx.AsyncClient,
    window_simulation: tuple[str, dict[int, tuple[pd.DataFrame, pd.DataFrame]]],
) -> None:
    simulation_id, frames = window_simulation
    for year in YEARS:
        response = await client.get(
            f"/api/v1/simulations/{simulation_id}/results", params={"year": year}
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/vnd.apache.parquet"
        assert response.headers["x-content-sha256"] == hashlib.sha256(response.content).hexdigest()
        assert "attachment" in response.headers["content-disposition"]
        downloaded = pd.read_parquet(io.BytesIO(response.content))
        expected = frames[year][0].sort_values("household_id", ignore_index=True)
        pd.testing.assert_frame_equal(downloaded, expected)
    first = await client.get(f"/api/v1/simulations/{simulation_id}/results")
    assert first.headers["x-content-sha256"] == hashlib.sha256(first.content).hexdigest()
    again = await client.get(f"/api/v1/simulations/{simulation_id}/results", params={"year": 2026})
    assert first.content == again.content
    missing = await client.get(f"/api/v1/simulations/{simulation_id}/results?year=2030")
    assert missing.status_code == 404
    assert "2026, 2027" in missing.json()["detail"]


@pytest.mark.parametrize("chart", ["decile", "winners", "poverty", "budget"])
async def test_charts_are_images(
    client: httpx.AsyncClient,
    window_simulation: tuple[str, dict[int, tuple[pd.DataFrame, pd.DataFrame]]],
    chart: str,
) -> None:
    simulation_id, _ = window_simulation
    png = await client.get(f"/api/v1/simulations/{simulation_id}/charts/{chart}.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).format == "PNG"
    svg = await client.get(
        f"/api/v1/simulations/{simulation_id}/charts/{chart}.svg", params={"year": 2027}
    )
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content and b"2027" in svg.content


async def test_unknown_chart_or_format_is_refused(
    client: httpx.AsyncClient,
    window_simulation: tuple[str, dict[int, tuple[pd.DataFrame, pd.DataFrame]]],
) -> None:
    simulation_id, _ = window_simulation
    for path in ("charts/pie.png", "charts/decile.gif"):
        response = await client.get(f"/api/v1/simulations/{simulation_id}/{path}")
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
    unknown = await client.get("/api/v1/simulations/sim-never-run/charts/decile.png")
    assert unknown.status_code == 404


async def test_aggregate_is_computed_stored_and_announced(
    client: httpx.AsyncClient,
    aggregation_settings: Settings,
    window_simulation: tuple[str, dict[int, tuple[pd.DataFrame, pd.DataFrame]]],
) -> None:
    simulation_id, frames = window_simulation
    households, _ = frames[2027]
    request = {
        "variable": "household_net_income",
        "stat": "sum",
        "policy": "change",
        "group_by": "state_code",
        "year": 2027,
    }
    async with event_tap(aggregation_settings.amqp_url, AggregateCompleted.event_type) as tap:
        response = await client.post(
            f"/api/v1/simulations/{simulation_id}/aggregates", json=request
        )
        assert response.status_code == 200, response.text
        announced = await tap.message_about(simulation_id, timeout=30)
    body = response.json()
    w = households["household_weight"].astype("float64")
    change = households["reform_household_net_income"].astype("float64") - households[
        "baseline_household_net_income"
    ].astype("float64")
    scale = (w * change.abs()).sum()
    assert close(body["value"], (w * change).sum(), scale)
    for state, value in (w * change).groupby(households["state_code"]).sum().items():
        assert close(body["groups"][state], value, scale)
    event = CloudEvent.model_validate_json(announced.body).payload(AggregateCompleted)
    assert event.aggregate_id == body["aggregate_id"] and event.year == 2027
    assert event.value == body["value"] and event.groups == body["groups"]


async def test_aggregate_of_a_column_not_stored_is_a_422_naming_it(
    client: httpx.AsyncClient,
    window_simulation: tuple[str, dict[int, tuple[pd.DataFrame, pd.DataFrame]]],
) -> None:
    simulation_id, _ = window_simulation
    response = await client.post(
        f"/api/v1/simulations/{simulation_id}/aggregates",
        json={"variable": "medicaid", "stat": "mean", "entity": "person"},
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["field"] == "variable"
    assert "medicaid was not stored" in problem["errors"][0]["message"]
