"""Every operation the gateway publishes has a client method, in both clients alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import ANSWERS, RESULTS, Driver, Gateway

from fiscus_client import (
    Aggregate,
    ApiKey,
    AuditEntry,
    Dataset,
    Delivery,
    Page,
    Parameter,
    Policy,
    Report,
    Simulation,
    SimulationEvent,
    Variable,
    WebhookEndpoint,
    WebhookSecret,
)

OPERATIONS = Path(__file__).with_name("operations.txt")
HOUSEHOLD = {"people": {"you": {"age": {"2026": 40}}}}


def published() -> set[tuple[str, str]]:
    """The operations of the gateway's OpenAPI document (kept current by the server's tests)."""
    lines = OPERATIONS.read_text().split("\n")
    return {(line.split(" ")[0], line.split(" ")[1]) for line in lines if line}


# (operation, method, arguments, keyword arguments, what the answer is)
CALLS: list[tuple[tuple[str, str], str, tuple[Any, ...], dict[str, Any], Any]] = [
    (("GET", "/healthz"), "health", (), {}, dict),
    (("GET", "/readyz"), "ready", (), {}, dict),
    (("POST", "/api/v1/keys"), "create_key", ("analyst",), {"rate_limit": "5/second"}, ApiKey),
    (("GET", "/api/v1/keys"), "list_keys", (), {}, Page),
    (("GET", "/api/v1/keys/{key_id}"), "get_key", ("key-1",), {}, ApiKey),
    (("DELETE", "/api/v1/keys/{key_id}"), "revoke_key", ("key-1",), {}, type(None)),
    (("GET", "/api/v1/audit"), "list_audit", (), {"status": 201}, Page),
    (("POST", "/api/v1/datasets/synthetic"), "create_synthetic_dataset", ("s", 40), {}, Dataset),
    (("GET", "/api/v1/datasets"), "list_datasets", (), {"year": 2026}, Page),
    (("GET", "/api/v1/datasets/{dataset_id}"), "get_dataset", ("ds-1",), {}, Dataset),
    (("DELETE", "/api/v1/datasets/{dataset_id}"), "delete_dataset", ("ds-1",), {}, type(None)),
    (("POST", "/api/v1/policies"), "create_policy", ("CTC", {"gov.x": {}}), {}, Policy),
    (("GET", "/api/v1/policies"), "list_policies", (), {"visibility": "public"}, Page),
    (("GET", "/api/v1/policies/{policy_id}"), "get_policy", ("pol-1",), {}, Policy),
    (("PATCH", "/api/v1/policies/{policy_id}"), "update_policy", ("pol-1",), {"name": "n"}, Policy),
    (("DELETE", "/api/v1/policies/{policy_id}"), "delete_policy", ("pol-1",), {}, type(None)),
    (("GET", "/api/v1/parameters"), "search_parameters", ("ctc",), {}, Page),
    (("GET", "/api/v1/parameters/{name}"), "get_parameter", ("gov.x",), {}, Parameter),
    (("GET", "/api/v1/variables"), "search_variables", ("age",), {}, Page),
    (("GET", "/api/v1/variables/{name}"), "get_variable", ("age",), {}, Variable),
    (("POST", "/api/v1/simulations/batch"), "submit_batch", ([{"year": 2026}],), {}, list),
    (("GET", "/api/v1/simulations"), "list_simulations", (), {"status": "queued"}, Page),
    (("GET", "/api/v1/simulations/{simulation_id}"), "get_simulation", ("sim-1",), {}, Simulation),
    (
        ("POST", "/api/v1/simulations/{simulation_id}/cancel"),
        "cancel_simulation",
        ("sim-1",),
        {},
        Simulation,
    ),
    (
        ("GET", "/api/v1/simulations/{simulation_id}/events"),
        "stream_events",
        ("sim-1",),
        {},
        list,
    ),
    (("POST", "/api/v1/households/calculate"), "calculate_household", (HOUSEHOLD,), {}, dict),
    (("GET", "/api/v1/simulations/{simulation_id}/report"), "get_report", ("sim-1",), {}, Report),
    (
        ("GET", "/api/v1/simulations/{simulation_id}/results"),
        "get_results",
        ("sim-1",),
        {"year": 2026},
        pd.DataFrame,
    ),
    (
        ("GET", "/api/v1/simulations/{simulation_id}/charts/{chart}.{fmt}"),
        "get_chart",
        ("sim-1", "decile"),
        {"fmt": "png"},
        bytes,
    ),
    (
        ("POST", "/api/v1/simulations/{simulation_id}/aggregates"),
        "aggregate",
        ("sim-1", "household_net_income", "sum"),
        {"group_by": "state_code"},
        Aggregate,
    ),
    (
        ("POST", "/api/v1/webhooks"),
        "create_webhook",
        ("https://example.com/hooks", ["simulation.completed"]),
        {},
        WebhookEndpoint,
    ),
    (("GET", "/api/v1/webhooks"), "list_webhooks", (), {}, Page),
    (("GET", "/api/v1/webhooks/{endpoint_id}"), "get_webhook", ("wh-1",), {}, WebhookEndpoint),
    (
        ("PATCH", "/api/v1/webhooks/{endpoint_id}"),
        "update_webhook",
        ("wh-1",),
        {"enabled": False},
        WebhookEndpoint,
    ),
    (("DELETE", "/api/v1/webhooks/{endpoint_id}"), "delete_webhook", ("wh-1",), {}, type(None)),
    (
        ("POST", "/api/v1/webhooks/{endpoint_id}/rotate-secret"),
        "rotate_webhook_secret",
        ("wh-1",),
        {},
        WebhookSecret,
    ),
    (("POST", "/api/v1/webhooks/{endpoint_id}/test"), "test_webhook", ("wh-1",), {}, Delivery),
    (
        ("GET", "/api/v1/webhooks/{endpoint_id}/deliveries"),
        "list_deliveries",
        ("wh-1",),
        {},
        Page,
    ),
    (
        ("POST", "/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver"),
        "redeliver",
        ("wh-1", "dl-1"),
        {},
        Delivery,
    ),
]
# Calls that write a file, or send one: their own tests below.
FILE_CALLS = {
    ("POST", "/api/v1/datasets"): "upload_dataset",
    ("GET", "/api/v1/datasets/{dataset_id}/download"): "download_dataset",
    ("GET", "/api/v1/datasets/{dataset_id}/original"): "download_original",
    ("POST", "/api/v1/simulations"): "simulate",
}


def test_every_published_operation_has_a_call() -> None:
    covered = {operation for operation, *_ in CALLS} | FILE_CALLS.keys()
    assert covered == published()
    assert set(ANSWERS) == published()


@pytest.mark.parametrize(
    ("operation", "name", "args", "kwargs", "kind"),
    CALLS,
    ids=[name for _, name, *_ in CALLS],
)
def test_a_call_reaches_its_operation_and_types_the_answer(
    fiscus: Driver,
    gateway: Gateway,
    operation: tuple[str, str],
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    kind: Any,
) -> None:
    answer = fiscus.call(name, *args, **kwargs)
    assert isinstance(answer, kind)
    assert gateway.operations[-1] == operation
    request = gateway.requests[-1]
    assert request.headers["Authorization"] == "Bearer fk_test"
    assert request.headers["User-Agent"].startswith("fiscus-client/")
    for key, value in kwargs.items():
        if key == "fmt":
            assert request.url.path.endswith(f".{value}")
        elif request.method == "GET":
            assert request.url.params[key] == str(value)
        else:
            assert json.loads(request.content)[key] == value
    if isinstance(answer, Page):
        assert len(answer.items) == 1
    if name == "stream_events":
        assert all(isinstance(event, SimulationEvent) for event in answer)
        assert [event.event for event in answer] == ["progress", "completed"]
    if name == "get_results":
        pd.testing.assert_frame_equal(answer, RESULTS)
    if name == "list_audit":
        assert isinstance(answer.items[0], AuditEntry)
