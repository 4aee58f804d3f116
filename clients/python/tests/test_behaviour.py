"""What the clients do beyond one request: files, ETags, errors, streams and waiting."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pandas as pd
import pytest
from conftest import DATASET, RESULTS, SIMULATION, ZIP, Driver, Gateway, binary

from fiscus_client import Dataset, FiscusError, Report, Simulation, SimulationEvent


def test_an_upload_sends_the_file_and_its_fields(
    fiscus: Driver, gateway: Gateway, tmp_path: Path
) -> None:
    archive = tmp_path / "people.zip"
    archive.write_bytes(ZIP)
    dataset = fiscus.call("upload_dataset", archive, "mine", year=2026)
    assert isinstance(dataset, Dataset) and dataset.id == DATASET["id"]
    request = gateway.requests[-1]
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    body = request.content
    assert b'name="name"\r\n\r\nmine' in body and b'name="year"\r\n\r\n2026' in body
    assert b'filename="people.zip"' in body and ZIP in body


def test_a_download_lands_in_a_folder_under_the_servers_name_or_at_a_path(
    fiscus: Driver, tmp_path: Path
) -> None:
    saved = fiscus.call("download_dataset", "ds-1", tmp_path)
    assert saved == tmp_path / "dataset-ds-1.zip" and saved.read_bytes() == ZIP
    chosen = fiscus.call("download_original", "ds-1", tmp_path / "as-uploaded.zip")
    assert chosen == tmp_path / "as-uploaded.zip" and chosen.read_bytes() == b"original"
    target = fiscus.call("download_results", "sim-1", tmp_path)
    pd.testing.assert_frame_equal(pd.read_parquet(target), RESULTS)


def test_a_corrupt_download_is_refused_and_leaves_no_file(
    fiscus: Driver, gateway: Gateway, tmp_path: Path
) -> None:
    corrupt = binary(ZIP, "dataset-ds-1.zip", "application/zip")
    corrupt.headers["X-Content-SHA256"] = hashlib.sha256(b"other").hexdigest()
    gateway.then("GET", "/api/v1/datasets/{dataset_id}/download", corrupt)
    with pytest.raises(FiscusError, match="Corrupt download"):
        fiscus.call("download_dataset", "ds-1", tmp_path)
    assert list(tmp_path.iterdir()) == []
    wrong = binary(b"\x89PNG", "decile.png", "image/png")
    wrong.headers["X-Content-SHA256"] = "0" * 64
    gateway.then("GET", "/api/v1/simulations/{simulation_id}/charts/{chart}.{fmt}", wrong)
    with pytest.raises(FiscusError) as refused:
        fiscus.call("get_chart", "sim-1", "decile", fmt="png")
    assert refused.value.status == 502


def test_a_change_names_the_version_read_just_before_unless_told(
    fiscus: Driver, gateway: Gateway
) -> None:
    policy = fiscus.call("update_policy", "pol-1", description="raised")
    assert policy.description == "raised"
    read, change = gateway.requests[-2:]
    assert (read.method, change.method) == ("GET", "PATCH")
    assert change.headers["If-Match"] == '"pol-v1"'
    assert json.loads(change.content) == {"description": "raised"}
    asked = len(gateway.requests)
    fiscus.call("delete_webhook", "wh-1", if_match='"wh-v0"')
    assert len(gateway.requests) == asked + 1
    assert gateway.requests[-1].headers["If-Match"] == '"wh-v0"'


def test_an_error_answer_raises_with_its_problem(fiscus: Driver, gateway: Gateway) -> None:
    problem = {
        "type": "https://fiscus.dev/problems/validation",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "year: must be 2021 or later",
        "errors": [{"field": "year", "message": "must be 2021 or later"}],
    }
    gateway.then("POST", "/api/v1/simulations", httpx.Response(422, json=problem))
    with pytest.raises(FiscusError) as refused:
        fiscus.call("simulate", "ds-1", "pol-1", 1999)
    assert refused.value.status == 422
    assert refused.value.problem["errors"][0]["field"] == "year"
    gateway.then("GET", "/api/v1/policies/{policy_id}", httpx.Response(503, text="<html>"))
    with pytest.raises(FiscusError) as unavailable:
        fiscus.call("get_policy", "pol-1")
    assert unavailable.value.status == 503
    assert unavailable.value.problem["detail"] == "<html>"


def test_a_job_is_followed_to_its_end_and_reads_what_it_produced(
    fiscus: Driver, gateway: Gateway
) -> None:
    job = fiscus.call("simulate", "ds-1", "pol-1", 2026, region="CA")
    body = json.loads(gateway.requests[-1].content)
    assert body == {"dataset_id": "ds-1", "policy_id": "pol-1", "year": 2026, "region": "CA"}
    seen: list[SimulationEvent] = []
    final = fiscus.on(job, "wait", progress=False, on_event=seen.append)
    assert isinstance(final, Simulation) and final.status == "completed"
    assert [event.event for event in seen] == ["progress", "completed"]
    assert isinstance(fiscus.on(job, "report"), Report)
    pd.testing.assert_frame_equal(fiscus.on(job, "results"), RESULTS)
    assert fiscus.on(job, "aggregate", "household_net_income", "mean").value == 1.5e9
    assert fiscus.on(job, "cancel").status == "cancelled"
    assert repr(job).endswith("status='cancelled')")


def test_a_stream_cut_off_resumes_after_the_last_event_seen(
    fiscus: Driver, gateway: Gateway
) -> None:
    cut = httpx.Response(
        200,
        content=b'id: e-1\nevent: progress\ndata: {"partitions_done": 1}\n\n',
        headers={"Content-Type": "text/event-stream"},
    )
    gateway.then("GET", "/api/v1/simulations/{simulation_id}/events", cut)
    events = fiscus.call("stream_events", "sim-1")
    assert [event.event for event in events] == ["progress", "progress", "completed"]
    first, second = gateway.requests[-2:]
    assert "Last-Event-ID" not in first.headers
    assert second.headers["Last-Event-ID"] == "e-1"


def test_waiting_polls_until_the_simulation_ends_and_the_report_exists(
    fiscus: Driver, gateway: Gateway
) -> None:
    running = httpx.Response(200, json={**SIMULATION, "status": "running"})
    gateway.then("GET", "/api/v1/simulations/{simulation_id}", running, running)
    done = fiscus.call("wait_for_simulation", "sim-1", interval=0.01)
    assert done.status == "completed"
    assert gateway.operations.count(("GET", "/api/v1/simulations/{simulation_id}")) == 3
    missing = httpx.Response(404, json={"title": "Not Found", "detail": "no report yet"})
    gateway.then("GET", "/api/v1/simulations/{simulation_id}/report", missing)
    assert isinstance(fiscus.call("wait_for_report", "sim-1", interval=0.01), Report)
    gateway.then("GET", "/api/v1/simulations/{simulation_id}/report", missing)
    with pytest.raises(FiscusError):
        fiscus.call("wait_for_report", "sim-1", timeout=0.0, interval=0.01)
