"""The policy API on the real Postgres and RabbitMQ, with the real parameter tree."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.envelope import CloudEvent
from contracts.events.policy.v1 import PolicyCreated
from services.policy.domain.parameters import PolicyEngineParameterTree, WarmParameterTree
from services.policy.main import create_app
from shared.settings import Settings
from tests.policy_fixtures import LOAD_TIMEOUT_SECONDS, US_PARAMETER_TREE
from tests.problems import assert_problem
from tests.service.bus import event_tap

pytestmark = pytest.mark.slow

PATH = "/api/v1/policies"
CTC = "gov.irs.credits.ctc.amount.base[0].amount"
RANGE = "2026-01-01.2100-12-31"
REFORM = {CTC: {RANGE: 3000}}


@pytest.fixture(scope="session")
def warm_tree() -> WarmParameterTree:
    US_PARAMETER_TREE.wait(timeout=LOAD_TIMEOUT_SECONDS)
    return US_PARAMETER_TREE


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running (outbox relay included), and a client on it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://policy") as client:
            yield client


@pytest.fixture
async def client(
    migrated: Settings, warm_tree: WarmParameterTree
) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_app(migrated, parameter_tree=warm_tree)) as client:
        yield client


async def counts(connection: AsyncConnection) -> tuple[int, int]:
    policies = await connection.scalar(sa.text("SELECT count(*) FROM policy.policies"))
    outbox = await connection.scalar(sa.text("SELECT count(*) FROM policy.outbox"))
    return int(policies or 0), int(outbox or 0)


def independent_sha256(data: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


async def test_create_stores_the_policy_and_its_event_in_one_transaction(
    migrated: Settings, warm_tree: WarmParameterTree, admin_connection: AsyncConnection
) -> None:
    # Without the lifespan, no relay touches the outbox row: its xmin stays the
    # id of the transaction that inserted it.
    app = create_app(migrated, parameter_tree=warm_tree)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://policy") as client:
            response = await client.post(
                PATH, json={"name": "CTC 3000", "description": "bigger CTC", "data": REFORM}
            )
    finally:
        await app.state.process.database.engine.dispose()
    assert response.status_code == 201, response.text
    policy = response.json()
    assert response.headers["location"] == f"{PATH}/{policy['id']}"
    assert policy["name"] == "CTC 3000"
    assert policy["description"] == "bigger CTC"
    assert policy["data"] == REFORM
    assert policy["sha256"] == independent_sha256(REFORM)
    datetime.fromisoformat(policy["created_at"])

    row = (
        await admin_connection.execute(
            sa.text("SELECT xmin::text AS xid, * FROM policy.policies WHERE id = :id"),
            {"id": policy["id"]},
        )
    ).one()
    assert (row.name, row.data, row.sha256) == ("CTC 3000", REFORM, policy["sha256"])
    event = (
        await admin_connection.execute(
            sa.text(
                "SELECT xmin::text AS xid, * FROM policy.outbox WHERE envelope->>'subject' = :id"
            ),
            {"id": policy["id"]},
        )
    ).one()
    assert event.xid == row.xid
    assert event.event_type == "policy.created"
    payload = CloudEvent.model_validate(event.envelope).payload(PolicyCreated)
    assert payload == PolicyCreated(
        policy_id=policy["id"], name="CTC 3000", sha256=policy["sha256"], data=REFORM
    )


BAD_BODIES: list[tuple[str, Any, str]] = [
    (
        "unknown parameter",
        {"name": "x", "data": {"gov.irs.credits.ctc.amount.bse[0].amount": {RANGE: 3000}}},
        "data.gov.irs.credits.ctc.amount.bse[0].amount",
    ),
    (
        "node",
        {"name": "x", "data": {"gov.irs.credits.ctc": {RANGE: 1}}},
        "data.gov.irs.credits.ctc",
    ),
    (
        "bracket out of range",
        {"name": "x", "data": {"gov.irs.credits.ctc.amount.base[9].amount": {RANGE: 1}}},
        "data.gov.irs.credits.ctc.amount.base[9].amount",
    ),
    ("bad period", {"name": "x", "data": {CTC: {"2026-13-01": 1}}}, f'data.{CTC}["2026-13-01"]'),
    (
        "start after end",
        {"name": "x", "data": {CTC: {"2030-01-01.2026-12-31": 1}}},
        f'data.{CTC}["2030-01-01.2026-12-31"]',
    ),
    (
        "bool given a number",
        {"name": "x", "data": {"gov.irs.credits.ctc.refundable.fully_refundable": {RANGE: 1}}},
        f'data.gov.irs.credits.ctc.refundable.fully_refundable["{RANGE}"]',
    ),
    (
        "number given a string",
        {"name": "x", "data": {CTC: {RANGE: "3000"}}},
        f'data.{CTC}["{RANGE}"]',
    ),
    ("empty data", {"name": "x", "data": {}}, "data"),
    ("data not an object", {"name": "x", "data": [1]}, "data"),
    ("no name", {"data": REFORM}, "body.name"),
    ("empty name", {"name": "", "data": REFORM}, "body.name"),
    ("unknown field", {"name": "x", "data": REFORM, "colour": "red"}, "body.colour"),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
async def test_invalid_input_is_422_naming_the_path_and_stores_nothing(
    client: httpx.AsyncClient,
    admin_connection: AsyncConnection,
    case: str,
    body: Any,
    field: str,
) -> None:
    before = await counts(admin_connection)
    problem = assert_problem(await client.post(PATH, json=body), 422)
    assert field in [error["field"] for error in problem["errors"]], problem
    assert problem["type"] == "urn:fiscus:problem:validation"
    assert await counts(admin_connection) == before


async def test_non_finite_numbers_are_refused(
    client: httpx.AsyncClient, admin_connection: AsyncConnection
) -> None:
    before = await counts(admin_connection)
    # Python's JSON parser (and so the API's) reads these non-standard literals.
    body = json.dumps({"name": "x", "data": {CTC: {RANGE: float("inf"), "2030": float("nan")}}})
    assert "Infinity" in body and "NaN" in body
    response = await client.post(PATH, content=body, headers={"content-type": "application/json"})
    problem = assert_problem(response, 422)
    assert [error["field"] for error in problem["errors"]] == [
        f'data.{CTC}["{RANGE}"]',
        f'data.{CTC}["2030"]',
    ]
    assert await counts(admin_connection) == before


async def test_every_error_is_reported_at_once(client: httpx.AsyncClient) -> None:
    data = {"gov.irs.credits.ctc.amount.bse[0].amount": {RANGE: 1}, CTC: {"soon": "lots"}}
    problem = assert_problem(await client.post(PATH, json={"name": "x", "data": data}), 422)
    assert [error["field"] for error in problem["errors"]] == [
        "data.gov.irs.credits.ctc.amount.bse[0].amount",
        f'data.{CTC}["soon"]',
        f'data.{CTC}["soon"]',
    ]
    assert "did you mean" in problem["errors"][0]["message"]


async def test_malformed_json_is_422_problem(
    client: httpx.AsyncClient, admin_connection: AsyncConnection
) -> None:
    before = await counts(admin_connection)
    response = await client.post(
        PATH, content=b'{"name": "x", "data": {', headers={"content-type": "application/json"}
    )
    problem = assert_problem(response, 422)
    assert problem["errors"]
    assert await counts(admin_connection) == before


@pytest.mark.parametrize("policy_id", [str(uuid.uuid4()), "not-a-uuid"])
async def test_unknown_id_is_404_problem(client: httpx.AsyncClient, policy_id: str) -> None:
    problem = assert_problem(await client.get(f"{PATH}/{policy_id}"), 404)
    assert policy_id in problem["detail"]


async def test_get_and_list_newest_first(client: httpx.AsyncClient) -> None:
    created = []
    for amount in (1000, 2000, 3000):
        response = await client.post(
            PATH, json={"name": f"CTC {amount}", "data": {CTC: {RANGE: amount}}}
        )
        assert response.status_code == 201, response.text
        created.append(response.json())
    fetched = await client.get(f"{PATH}/{created[1]['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created[1]

    first = (await client.get(PATH, params={"limit": 2})).json()
    assert [p["id"] for p in first["items"]] == [created[2]["id"], created[1]["id"]]
    assert first["next_cursor"]
    second = (await client.get(PATH, params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert second["items"][0]["id"] == created[0]["id"]
    assert_problem(await client.get(PATH, params={"cursor": "garbage"}), 422)


async def test_not_ready_and_503_until_the_tree_is_loaded(migrated: Settings) -> None:
    release = threading.Event()

    def slow_load() -> PolicyEngineParameterTree:
        release.wait(timeout=120)
        from policyengine_core.parameters import ParameterNode

        return PolicyEngineParameterTree(ParameterNode("", data={}))

    warm = WarmParameterTree(slow_load)
    try:
        async with running(create_app(migrated, parameter_tree=warm)) as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["parameters"].endswith("the parameter tree is loading")
            response = await client.post(PATH, json={"name": "x", "data": REFORM})
            assert_problem(response, 503)
            assert int(response.headers["retry-after"]) > 0

            release.set()
            await asyncio.to_thread(warm.wait, 60)
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"]["parameters"] == "ok"
    finally:
        release.set()


async def test_policy_created_reaches_a_subscriber_on_rabbitmq(
    migrated: Settings, warm_tree: WarmParameterTree
) -> None:
    async with (
        event_tap(migrated.amqp_url, "policy.created", exchange=migrated.events_exchange) as tap,
        running(create_app(migrated, parameter_tree=warm_tree)) as client,
    ):
        response = await client.post(PATH, json={"name": "CTC event", "data": REFORM})
        assert response.status_code == 201, response.text
        policy = response.json()
        message = await tap.message_about(policy["id"])

    assert message.content_type == "application/cloudevents+json"
    envelope = json.loads(message.body)
    assert envelope["specversion"] == "1.0"
    assert envelope["type"] == "policy.created"
    assert envelope["source"] == "/fiscus/policy"
    assert envelope["subject"] == policy["id"]
    assert envelope["id"] == message.message_id
    assert envelope["datacontenttype"] == "application/json"
    assert envelope["dataschema"] == "urn:fiscus:schema:policy.created:v1"
    datetime.fromisoformat(envelope["time"])
    assert envelope["data"] == {
        "policy_id": policy["id"],
        "name": "CTC event",
        "sha256": independent_sha256(REFORM),
        "data": REFORM,
        # Stored from inside the deployment (no x-fiscus-principal): nobody's own.
        "owner": None,
        "visibility": "private",
    }
