"""A society-wide reform simulation through the gateway, with every service running."""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fiscus_client import Fiscus, FiscusError, Simulation

from contracts.results.v1 import (
    HOUSEHOLD_VARIABLES,
    HOUSEHOLDS_FILE,
    PEOPLE_FILE,
    PERSON_VARIABLES,
    POLICIES,
    policy_column,
)
from shared import storage
from shared.population import read_population
from tests.direct_policyengine import calculated, direct_simulations
from tests.e2e.outsiders import (
    SubscriberQueue,
    WebhookInbox,
    delete_webhook_endpoint,
    webhook_receiver,
)
from tests.reforms import CTC_REFORM
from tests.stack import RunningStack
from tests.unit.aggregation_results import close
from tests.unit.report_definitions import assert_report_matches

pytestmark = pytest.mark.slow

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def fiscus(stack: RunningStack) -> Fiscus:
    return Fiscus(stack.gateway_url, stack.admin_key)


@pytest.fixture(scope="module")
def webhook_inbox() -> Iterator[WebhookInbox]:
    with webhook_receiver() as inbox:
        yield inbox


@pytest.fixture(scope="module")
def subscriber(stack: RunningStack) -> Iterator[SubscriberQueue]:
    queue = SubscriberQueue(
        stack.settings.amqp_url, "other-team.simulation-events", ("simulation.*",)
    )
    queue.declare()
    yield queue
    queue.delete()


@pytest.fixture(scope="module")
def finished(
    stack: RunningStack,
    fiscus: Fiscus,
    webhook_inbox: WebhookInbox,
    subscriber: SubscriberQueue,
) -> Iterator[dict[str, Any]]:
    endpoint = fiscus.request(
        "POST",
        "/api/v1/webhooks",
        json={"url": webhook_inbox.url, "event_types": ["simulation.completed"]},
    )
    webhook_inbox.secret = endpoint["secret"]
    dataset = fiscus.create_synthetic_dataset("e2e population", 300, seed=11, year=2025)
    policy = fiscus.create_policy("CTC $3,000", CTC_REFORM)
    created = fiscus.simulate(dataset.id, policy.id, 2025)
    assert created.state is not None and created.state.status == "queued", created
    simulation = fiscus.wait_for_simulation(created.id, timeout=900)
    report = fiscus.wait_for_report(created.id, timeout=120)
    yield {
        "dataset": dataset,
        "policy": policy,
        "simulation": simulation,
        "report": report,
        "webhook_secret": endpoint["secret"],
    }
    delete_webhook_endpoint(stack.gateway_url, stack.admin_key, endpoint["id"])


def test_every_api_route_needs_a_key(stack: RunningStack) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        answer = httpx.get(f"{stack.gateway_url}/api/v1/datasets", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["request_id"] == answer.headers["x-request-id"]


def test_health_and_docs(stack: RunningStack) -> None:
    assert httpx.get(f"{stack.gateway_url}/healthz").status_code == 200
    ready = httpx.get(f"{stack.gateway_url}/readyz").json()
    assert ready["status"] == "ready", ready
    document = httpx.get(f"{stack.gateway_url}/openapi.json").json()
    for path in (
        "/api/v1/datasets/synthetic",
        "/api/v1/policies",
        "/api/v1/simulations",
        "/api/v1/simulations/{simulation_id}/report",
    ):
        assert path in document["paths"], sorted(document["paths"])
    assert httpx.get(f"{stack.gateway_url}/docs").status_code == 200


def test_simulation_completes_with_a_report(finished: dict[str, Any]) -> None:
    simulation = finished["simulation"]
    assert simulation.status == "completed", simulation
    for stamp in ("created_at", "started_at", "completed_at"):
        assert getattr(simulation, stamp)
    report = finished["report"].report
    for section in ("budget", "decile", "poverty", "inequality"):
        assert getattr(report, section) is not None
    budget = report.budget
    assert budget is not None
    assert budget.budgetary_impact is not None and budget.households is not None, budget
    # A larger child tax credit costs money: revenue falls, the budget impact is negative.
    assert budget.budgetary_impact < 0
    # The synthetic population's weights scale to the ~131 million US households.
    assert 1.2e8 < budget.households < 1.45e8


def count(fiscus: Fiscus, path: str) -> int:
    answer = fiscus._http.get(path, params={"limit": 100})
    answer.raise_for_status()
    body = answer.json()
    items = body["items"] if isinstance(body, dict) else body
    return len(items)


def test_bad_input_is_refused_and_changes_nothing(fiscus: Fiscus, finished: dict[str, Any]) -> None:
    paths = ("/api/v1/datasets", "/api/v1/policies", "/api/v1/simulations")
    before = {path: count(fiscus, path) for path in paths}

    malformed = fiscus._http.post(
        "/api/v1/policies",
        content=b'{"name": "x", "data": {',
        headers={"content-type": "application/json"},
    )
    assert malformed.status_code == 422
    assert malformed.headers["content-type"] == PROBLEM

    with pytest.raises(FiscusError) as unknown_parameter:
        fiscus.create_policy(
            "typo", {"gov.irs.credits.ctc.amount.bse[0].amount": {"2025-01-01.2100-12-31": 1}}
        )
    assert unknown_parameter.value.status == 422
    assert "gov.irs.credits.ctc.amount.bse[0].amount" in json.dumps(unknown_parameter.value.problem)

    with pytest.raises(FiscusError) as unknown_dataset:
        fiscus.simulate("no-such-dataset", finished["policy"].id, 2025)
    assert unknown_dataset.value.status == 422
    assert "dataset_id" in json.dumps(unknown_dataset.value.problem)

    with pytest.raises(FiscusError) as no_report:
        fiscus.get_report("no-such-simulation")
    assert no_report.value.status == 404
    assert no_report.value.problem["status"] == 404

    assert {path: count(fiscus, path) for path in paths} == before


def stored_results(simulation: Simulation) -> dict[str, pd.DataFrame]:
    """The simulation's result files, checked against their declared SHA-256 and rows: each
    file name's partitions together, in id order."""
    parts: dict[str, list[pd.DataFrame]] = {HOUSEHOLDS_FILE: [], PEOPLE_FILE: []}
    assert simulation.results is not None, simulation
    for result in simulation.results:
        assert storage.sha256_of(result["uri"]) == result["sha256"]
        frame = pd.read_parquet(io.BytesIO(storage.read_bytes(result["uri"])))
        assert len(frame) == result["rows"]
        parts[result["uri"].rsplit("/", 1)[-1]].append(frame)
    keys = {HOUSEHOLDS_FILE: "household_id", PEOPLE_FILE: "person_id"}
    return {
        name: pd.concat(frames, ignore_index=True).sort_values(
            keys[name], kind="mergesort", ignore_index=True
        )
        for name, frames in parts.items()
    }


def test_report_equals_an_independent_computation_from_the_raw_results(
    fiscus: Fiscus, finished: dict[str, Any]
) -> None:
    frames = stored_results(finished["simulation"])
    households, people = frames[HOUSEHOLDS_FILE], frames[PEOPLE_FILE]
    assert len(households) == finished["dataset"].households
    assert len(people) == finished["dataset"].people
    # The report as the API sends it, not as the SDK's models read it.
    answer = fiscus.request("GET", f"/api/v1/simulations/{finished['simulation'].id}/report")
    assert_report_matches(answer["report"], households, people)


def test_raw_results_charts_and_aggregates_through_the_gateway(
    fiscus: Fiscus, finished: dict[str, Any]
) -> None:
    simulation_id = finished["simulation"].id
    households = pd.concat(
        [
            pd.read_parquet(io.BytesIO(storage.read_bytes(result["uri"])))
            for result in finished["simulation"].results
            if result["uri"].endswith(HOUSEHOLDS_FILE)
        ],
        ignore_index=True,
    ).sort_values("household_id", kind="mergesort", ignore_index=True)

    download = fiscus._http.get(f"/api/v1/simulations/{simulation_id}/results")
    assert download.status_code == 200
    assert download.headers["x-content-sha256"] == hashlib.sha256(download.content).hexdigest()
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(download.content)), households)

    for chart in ("decile", "winners", "poverty", "budget"):
        png = fiscus._http.get(f"/api/v1/simulations/{simulation_id}/charts/{chart}.png")
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content.startswith(b"\x89PNG\r\n\x1a\n")

    aggregate = fiscus._http.post(
        f"/api/v1/simulations/{simulation_id}/aggregates",
        json={"variable": "household_net_income", "stat": "sum", "policy": "change"},
    )
    assert aggregate.status_code == 200, aggregate.text
    weight = households["household_weight"].astype("float64")
    change = households["reform_household_net_income"].astype("float64") - households[
        "baseline_household_net_income"
    ].astype("float64")
    assert close(aggregate.json()["value"], (weight * change).sum(), (weight * change.abs()).sum())
    not_stored = fiscus._http.post(
        f"/api/v1/simulations/{simulation_id}/aggregates",
        json={"variable": "medicaid", "stat": "sum"},
    )
    assert not_stored.status_code == 422
    assert not_stored.json()["errors"][0]["field"] == "variable"


def test_results_equal_policyengine_run_directly_on_the_same_files(
    finished: dict[str, Any],
) -> None:
    frames = stored_results(finished["simulation"])
    households, people = frames[HOUSEHOLDS_FILE], frames[PEOPLE_FILE]
    population = read_population(finished["dataset"].storage_uri)
    year = finished["simulation"].year
    direct = direct_simulations(population, year, CTC_REFORM)
    np.testing.assert_array_equal(
        households["household_id"], population["household"]["household_id"]
    )
    for policy in POLICIES:
        for variable in HOUSEHOLD_VARIABLES:
            expected = calculated(direct[policy], variable, year, map_to="household")
            np.testing.assert_array_equal(
                households[policy_column(policy, variable)], expected, err_msg=variable
            )
        for variable in PERSON_VARIABLES:
            expected = calculated(direct[policy], variable, year, map_to="person")
            np.testing.assert_array_equal(
                people[policy_column(policy, variable)], expected, err_msg=variable
            )
    np.testing.assert_array_equal(
        households["household_income_decile"],
        calculated(direct["baseline"], "household_income_decile", year),
    )


def test_a_webhook_receiver_gets_the_signed_completion(
    finished: dict[str, Any], webhook_inbox: WebhookInbox
) -> None:
    simulation_id = finished["simulation"].id

    def about_this_simulation() -> list[tuple[dict[str, str], dict[str, Any]]]:
        # Simulations left queued by earlier test modules may complete on this stack too.
        return [
            (headers, verified)
            for (headers, _), verified in zip(
                webhook_inbox.requests, webhook_inbox.verified, strict=False
            )
            if isinstance(verified, dict) and verified["data"]["simulation_id"] == simulation_id
        ]

    deadline = time.monotonic() + 60
    while not about_this_simulation() and time.monotonic() < deadline:
        time.sleep(0.2)
    deliveries = about_this_simulation()
    assert len(deliveries) == 1, webhook_inbox.verified
    headers, verified = deliveries[0]
    assert verified["type"] == "simulation.completed"
    assert headers["webhook-id"] == verified["id"]


def test_another_teams_queue_gets_the_completion_as_a_cloudevent(
    finished: dict[str, Any], subscriber: SubscriberQueue
) -> None:
    from cloudevents.core.formats.json import JSONFormat
    from cloudevents.core.v1.event import CloudEvent as SdkCloudEvent

    events = [JSONFormat().read(SdkCloudEvent, body) for body in subscriber.read_all(30)]
    # Only this simulation's: others left queued by earlier modules may run meanwhile.
    events = [e for e in events if e.get_subject() == finished["simulation"].id]
    completed = [e for e in events if e.get_type() == "simulation.completed"]
    assert len(completed) == 1
    data = completed[0].get_data()
    assert isinstance(data, dict)
    assert {r["uri"] for r in data["results"]} == {r["uri"] for r in finished["simulation"].results}
    assert [e.get_type() for e in events].count("simulation.requested") == 1
