"""The simulation service's pure logic: statuses, requests, resources, pages, result files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from contracts.results.v1 import HOUSEHOLDS_FILE, PEOPLE_FILE, household_columns, person_columns
from services.simulation.domain.results import (
    ResultShapeError,
    StoredResult,
    check_columns,
    partition_root,
    results_root,
)
from services.simulation.domain.simulations import (
    FIRST_YEAR,
    LAST_YEAR,
    SimulationPage,
    SimulationRequest,
    Status,
    attempts_exhausted,
    estimated_seconds_left,
    failure_of,
    is_finished,
    is_second_copy,
    may_cancel,
    may_start,
    requested_event,
    resource_from_row,
    unknown_inputs,
)
from shared.pagination import decode_cursor

CREATED = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def row(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "sim-1",
        "status": "queued",
        "dataset_id": "ds",
        "policy_id": "pol",
        "baseline_policy_id": None,
        "year": 2026,
        "region": "us",
        "key": None,
        "created_at": CREATED,
        "started_at": None,
        "completed_at": None,
        "cancelled_at": None,
        "attempts": 0,
        "error_type": None,
        "error_reason": None,
        "results": None,
        "timings": None,
        "model_version": None,
        "dataset_sha256": None,
    }
    return base | overrides


def test_finished_simulations_never_start_again() -> None:
    assert may_start("queued") and may_start("running")
    assert not may_start("completed") and not may_start("failed")
    assert is_finished("completed") and is_finished("failed")
    assert not is_finished("queued") and not is_finished("running")


def test_only_an_unfinished_simulation_is_cancelled() -> None:
    assert may_cancel("queued") and may_cancel("running")
    assert not any(may_cancel(s) for s in ("completed", "failed", "cancelled"))
    # Cancelled is final: a worker neither starts it nor completes it.
    assert is_finished("cancelled") and not may_start("cancelled")


def test_attempts_are_exhausted_only_beyond_the_limit() -> None:
    assert not attempts_exhausted(3, 3)
    assert attempts_exhausted(4, 3)


def test_only_a_first_delivery_of_a_running_partitions_request_elsewhere_is_a_second_copy() -> None:
    assert is_second_copy(running=True, redelivered=False, started_here=False)
    # A redelivery: the worker computing it died or failed; an outage: retried where started.
    assert not is_second_copy(running=True, redelivered=True, started_here=False)
    assert not is_second_copy(running=True, redelivered=False, started_here=True)
    # Not running: queued is started, done is skipped before this question.
    assert not is_second_copy(running=False, redelivered=False, started_here=False)


def test_failure_names_the_exception_type() -> None:
    assert failure_of(ValueError("bad reform")) == ("ValueError", "ValueError: bad reform")
    assert failure_of(MemoryError()) == ("MemoryError", "MemoryError")


def test_request_refuses_years_outside_the_model_range_and_unknown_fields() -> None:
    SimulationRequest(dataset_id="d", policy_id="p", year=FIRST_YEAR)
    SimulationRequest(dataset_id="d", policy_id="p", year=LAST_YEAR)
    for year in (FIRST_YEAR - 1, LAST_YEAR + 1):
        with pytest.raises(ValidationError):
            SimulationRequest(dataset_id="d", policy_id="p", year=year)
    with pytest.raises(ValidationError):
        SimulationRequest.model_validate(
            {"dataset_id": "d", "policy_id": "p", "year": 2026, "yeer": 1}
        )


def test_unknown_inputs_name_each_field() -> None:
    request = SimulationRequest(dataset_id="d1", policy_id="p1", baseline_policy_id="p2", year=2026)
    errors = unknown_inputs(request, known_datasets=set(), known_policies={"p1"})
    assert [(e.field, e.message) for e in errors] == [
        ("dataset_id", "unknown dataset d1"),
        ("baseline_policy_id", "unknown policy p2"),
    ]
    assert unknown_inputs(request, {"d1"}, {"p1", "p2"}) == []


def test_queued_resource_has_no_error_or_results() -> None:
    resource = resource_from_row(row())
    assert resource.status is Status.QUEUED
    assert resource.error is None and resource.results is None and resource.timings is None


def test_failed_resource_carries_the_error() -> None:
    resource = resource_from_row(
        row(status="failed", error_type="ValueError", error_reason="ValueError: no")
    )
    assert resource.error is not None
    assert (resource.error.type, resource.error.reason) == ("ValueError", "ValueError: no")


def test_completed_resource_carries_results_and_timings() -> None:
    files = [{"name": HOUSEHOLDS_FILE, "uri": "file:///r/h", "sha256": "a" * 64, "rows": 3}]
    timings = {
        "load_seconds": 0.1,
        "calculation_seconds": 2.0,
        "write_seconds": 0.1,
        "total_seconds": 2.3,
    }
    resource = resource_from_row(
        row(status="completed", results=files, timings=timings, model_version="2.68.0")
    )
    assert resource.results is not None and resource.results[0].rows == 3
    assert resource.timings is not None and resource.timings.total_seconds == 2.3


def test_page_gives_a_cursor_only_when_more_rows_exist() -> None:
    rows = [row(id=f"s{i}", created_at=CREATED - timedelta(seconds=i)) for i in range(3)]
    page = SimulationPage.of_rows(rows, 2, resource_from_row)
    assert [item.id for item in page.items] == ["s0", "s1"]
    assert page.next_cursor is not None
    assert decode_cursor(page.next_cursor) == (rows[1]["created_at"], "s1")
    assert SimulationPage.of_rows(rows, 3, resource_from_row).next_cursor is None


def test_result_columns_must_match_the_contract() -> None:
    check_columns(HOUSEHOLDS_FILE, pd.DataFrame(columns=household_columns()))
    check_columns(PEOPLE_FILE, pd.DataFrame(columns=person_columns()))
    with pytest.raises(ResultShapeError, match="missing"):
        check_columns(PEOPLE_FILE, pd.DataFrame(columns=person_columns()[:-1]))
    with pytest.raises(ResultShapeError, match="order"):
        check_columns(HOUSEHOLDS_FILE, pd.DataFrame(columns=household_columns()[::-1]))


def test_result_files_are_addressed_by_simulation_and_hashed() -> None:
    root = results_root("file:///data/", "sim-9")
    assert root == "file:///data/results/sim-9"
    folder = partition_root("file:///data/", "sim-9", 2026, 3)
    assert folder == "file:///data/results/sim-9/2026/partition-0003"
    stored = StoredResult.of(
        PEOPLE_FILE, f"{folder}/{PEOPLE_FILE}", b"abc", rows=2, year=2026, partition=3
    )
    assert stored.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert stored.as_event_file().model_dump() == {
        "uri": "file:///data/results/sim-9/2026/partition-0003/people.parquet",
        "sha256": stored.sha256,
        "rows": 2,
        "name": PEOPLE_FILE,
        "year": 2026,
        "partition": 3,
    }


def test_a_request_takes_a_year_or_a_budget_window() -> None:
    one = SimulationRequest(dataset_id="d", policy_id="p", year=2026)
    window = SimulationRequest(dataset_id="d", policy_id="p", years=list(range(2025, 2035)))
    both = SimulationRequest(dataset_id="d", policy_id="p", year=2025, years=[2025, 2026])

    assert (one.first_year, one.window) == (2026, [2026])
    assert (window.first_year, window.window) == (2025, list(range(2025, 2035)))
    assert both.window == [2025, 2026]
    event = requested_event("sim-1", window)
    assert (event.year, event.years, event.region) == (2025, list(range(2025, 2035)), "us")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "give `year` or `years`"),
        ({"years": [2026, 2025]}, "increasing"),
        ({"years": [2025, 2025]}, "increasing"),
        ({"years": [2025, LAST_YEAR + 1]}, "must lie in"),
        ({"years": []}, "at least 1"),
        ({"year": 2026, "years": [2025, 2026]}, "first of `years`"),
    ],
)
def test_a_budget_window_is_checked(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message) as raised:
        SimulationRequest.model_validate({"dataset_id": "d", "policy_id": "p", **body})
    assert raised.value.errors()[0]["loc"] == ("years",)


def test_a_region_is_the_country_or_a_state() -> None:
    def region(value: str) -> str:
        return SimulationRequest(dataset_id="d", policy_id="p", year=2026, region=value).region

    assert region("us") == region("US") == "us"
    assert region("ca") == region("CA") == "CA"
    assert region("DC") == "DC"
    for refused in ("XX", "PR", "California", ""):
        with pytest.raises(ValidationError) as raised:
            region(refused)
        assert raised.value.errors()[0]["loc"] == ("region",)


def test_progress_extrapolates_the_households_done() -> None:
    started = CREATED
    running = row(
        status="running",
        started_at=started,
        partitions_total=4,
        partitions_done=1,
        households_total=1000,
        households_done=250,
    )

    progress = resource_from_row(running, now=started + timedelta(seconds=30)).progress

    assert progress is not None
    assert (progress.partitions_done, progress.partitions_total) == (1, 4)
    assert (progress.households_done, progress.households_total) == (250, 1000)
    assert progress.elapsed_seconds == 30.0
    assert progress.estimated_seconds_left == 90.0
    assert estimated_seconds_left(10.0, 0, 100) is None
    assert resource_from_row(row()).progress is None
    done = row(
        **{**running, "status": "completed", "completed_at": started + timedelta(seconds=50)},
    )
    finished = resource_from_row(done, now=started + timedelta(hours=1)).progress
    assert finished is not None
    assert finished.elapsed_seconds == 50.0 and finished.estimated_seconds_left is None
