"""The webhooks service on the real Postgres and RabbitMQ, delivering to real HTTP
receivers on 127.0.0.1: signed deliveries, retries, disabling, SSRF refusals, restarts."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncConnection
from standardwebhooks import Webhook

from contracts.envelope import CloudEvent
from contracts.events.report.v1 import ReportCompleted
from contracts.events.simulation.v1 import ResultFile, SimulationCompleted
from services.webhooks.domain.endpoints import SUBSCRIBABLE_EVENT_TYPES, consumer_name
from services.webhooks.domain.sealing import unseal
from services.webhooks.main import create_app
from shared.settings import Settings
from tests.service.bus import event_tap, publish
from tests.service.webhook_receiver import Answer, Received, receiver

OWNER = {"x-fiscus-principal": "key-a:user"}
OTHER = {"x-fiscus-principal": "key-b:user"}
ADMIN = {"x-fiscus-principal": "admin:admin"}
DELAY = 0.3


async def delete_consumer_queues(amqp_url: str) -> None:
    """Drop the service's queues, with whatever earlier tests' events left in them."""
    async with await aio_pika.connect(amqp_url) as connection:
        channel = await connection.channel()
        for event_type in SUBSCRIBABLE_EVENT_TYPES:
            await channel.queue_delete(consumer_name(event_type))


@pytest.fixture(scope="module")
def webhook_settings(migrated: Settings) -> Settings:
    # Endpoints here subscribe to "*": events other tests of the session published into
    # these durable queues must not reach them.
    asyncio.run(delete_consumer_queues(migrated.amqp_url))
    return migrated.model_copy(
        update={
            "webhooks_allow_private": True,
            "webhooks_retry_schedule": [0, DELAY, DELAY, DELAY, DELAY],
            "webhooks_retry_jitter": 0.1,
            "webhooks_poll_seconds": 0.05,
            "webhooks_disable_after_failures": 3,
            "webhooks_timeout_seconds": 1.0,
        }
    )


@asynccontextmanager
async def service(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://webhooks") as client:
            yield client


async def create_endpoint(
    client: httpx.AsyncClient, url: str, event_types: list[str] | None = None
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/webhooks",
        json={"url": url, "event_types": event_types or ["*"], "description": "tests"},
        headers=OWNER,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def deliveries_of(client: httpx.AsyncClient, endpoint_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries", headers=OWNER)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def settled(client: httpx.AsyncClient, endpoint_id: str, delivery_id: str) -> dict[str, Any]:
    """The delivery once it is no longer pending."""
    async with asyncio.timeout(20):
        while True:
            for delivery in await deliveries_of(client, endpoint_id):
                if delivery["id"] == delivery_id and delivery["status"] != "pending":
                    return delivery
            await asyncio.sleep(0.05)


async def disabled(client: httpx.AsyncClient, endpoint_id: str) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while True:
            endpoint: dict[str, Any] = (
                await client.get(f"/api/v1/webhooks/{endpoint_id}", headers=OWNER)
            ).json()
            if not endpoint["enabled"]:
                return endpoint
            await asyncio.sleep(0.05)


def verified(secret: str, request: Received) -> dict[str, Any]:
    """The body of a delivery, after checking its signature as a receiver would."""
    document: dict[str, Any] = Webhook(secret).verify(request.body, request.headers)
    return document


def completed_event() -> CloudEvent:
    simulation_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    return CloudEvent.wrap(
        SimulationCompleted(
            simulation_id=simulation_id,
            dataset_id="d1",
            policy_id="p1",
            year=2026,
            results=[ResultFile(uri="file:///r.parquet", sha256="0" * 64, rows=1)],
            model_version="policyengine-us 2.68.0",
            dataset_sha256="1" * 64,
            started_at=now,
            completed_at=now,
            seconds=1.0,
        ),
        source="/fiscus/simulation",
        subject=simulation_id,
    )


async def test_endpoints_are_owned_and_the_secret_is_shown_once(
    webhook_settings: Settings,
) -> None:
    async with service(webhook_settings) as client, receiver() as target:
        created = await create_endpoint(client, target.url, ["simulation.completed"])
        assert created["secret"].startswith("whsec_")
        endpoint_id = created["id"]
        path = f"/api/v1/webhooks/{endpoint_id}"

        read = await client.get(path, headers=OWNER)
        shown = read.json()
        assert "secret" not in shown and shown["url"] == target.url
        assert shown["event_types"] == ["simulation.completed"] and shown["enabled"]
        listed = (await client.get("/api/v1/webhooks", headers=OWNER)).json()["items"]
        assert endpoint_id in [e["id"] for e in listed]
        assert all("secret" not in e for e in listed)

        assert (await client.get(path, headers=OTHER)).status_code == 404
        assert (
            await client.patch(path, json={"description": "x"}, headers=OTHER)
        ).status_code == 404
        assert (await client.delete(path, headers=OTHER)).status_code == 404
        assert (await client.post(f"{path}/test", headers=OTHER)).status_code == 404
        assert (await client.get(f"{path}/deliveries", headers=OTHER)).status_code == 404
        others = (await client.get("/api/v1/webhooks", headers=OTHER)).json()["items"]
        assert endpoint_id not in [e["id"] for e in others]
        assert (await client.get(path, headers=ADMIN)).status_code == 200
        assert (await client.get(path)).status_code == 401

        change = {"description": "changed", "event_types": ["report.completed", "*"]}
        missing = await client.patch(path, json=change, headers=OWNER)
        assert missing.status_code == 428
        stale = await client.patch(path, json=change, headers={**OWNER, "If-Match": '"stale"'})
        assert stale.status_code == 412
        changed = await client.patch(
            path, json=change, headers={**OWNER, "If-Match": read.headers["etag"]}
        )
        assert changed.status_code == 200
        assert changed.headers["etag"] != read.headers["etag"]
        assert changed.json()["description"] == "changed"
        assert changed.json()["event_types"] == ["report.completed", "*"]
        unknown = await client.patch(
            path, json={"event_types": ["nope.happened"]}, headers={**OWNER, "If-Match": "*"}
        )
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["field"] == "event_types"

        rotated = await client.post(f"{path}/rotate-secret", headers=OWNER)
        assert rotated.status_code == 200
        assert rotated.json()["secret"].startswith("whsec_")
        assert rotated.json()["secret"] != created["secret"]
        await client.post(f"{path}/test", headers=OWNER)
        (request,) = await target.wait_for(1)
        assert verified(rotated.json()["secret"], request)["type"] == "webhook.test"

        assert (await client.delete(path, headers=OWNER)).status_code == 428
        deleted = await client.delete(path, headers={**OWNER, "If-Match": "*"})
        assert deleted.status_code == 204
        assert (await client.get(path, headers=OWNER)).status_code == 404
        listed = (await client.get("/api/v1/webhooks", headers=ADMIN)).json()["items"]
        assert endpoint_id not in [e["id"] for e in listed]


async def test_a_published_event_is_delivered_signed_to_its_subscribers(
    webhook_settings: Settings,
) -> None:
    async with (
        service(webhook_settings) as client,
        receiver() as subscribed,
        receiver() as elsewhere,
    ):
        endpoint = await create_endpoint(client, subscribed.url, ["simulation.completed"])
        other = await create_endpoint(client, elsewhere.url, ["report.completed"])
        event = completed_event()
        await publish(webhook_settings.amqp_url, event)

        (request,) = await subscribed.wait_for(1)
        document = verified(endpoint["secret"], request)
        assert document == json.loads(event.model_dump_json())
        assert request.headers["webhook-id"] == event.id
        assert request.headers["content-type"] == "application/cloudevents+json"
        assert await deliveries_of(client, other["id"]) == []

        (delivery,) = await deliveries_of(client, endpoint["id"])
        delivery = await settled(client, endpoint["id"], delivery["id"])
        assert delivery["status"] == "succeeded" and delivery["event_id"] == event.id
        (attempt,) = delivery["attempts"]
        assert attempt["succeeded"] and attempt["status_code"] == 200
        assert attempt["response_excerpt"] == "ok" and attempt["latency_ms"] >= 0

        # The same event again (a broker redelivery) is not delivered twice.
        await publish(webhook_settings.amqp_url, event)
        report = CloudEvent.wrap(
            ReportCompleted(simulation_id="s", report_id="r", budgetary_impact=1.0, households=2.0),
            source="/fiscus/aggregation",
        )
        await publish(webhook_settings.amqp_url, report)
        (to_other,) = await elsewhere.wait_for(1)
        assert verified(other["secret"], to_other)["id"] == report.id
        assert len(await deliveries_of(client, endpoint["id"])) == 1
        assert len(subscribed.received) == 1


async def test_failed_attempts_are_retried_on_the_schedule_until_one_succeeds(
    webhook_settings: Settings,
) -> None:
    def fail_twice(number: int) -> Answer:
        return Answer(500, b"x" * 100_000) if number <= 2 else Answer(204, b"")

    async with service(webhook_settings) as client, receiver(fail_twice) as target:
        endpoint = await create_endpoint(client, target.url)
        queued = (
            await client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=OWNER)
        ).json()
        requests = await target.wait_for(3)
        assert {r.headers["webhook-id"] for r in requests} == {queued["event_id"]}
        assert all(verified(endpoint["secret"], r)["type"] == "webhook.test" for r in requests)

        delivery = await settled(client, endpoint["id"], queued["id"])
        assert delivery["status"] == "succeeded" and delivery["attempt_count"] == 3
        log = delivery["attempts"]
        assert [a["status_code"] for a in log] == [500, 500, 204]
        assert [a["succeeded"] for a in log] == [False, False, True]
        assert log[0]["error"] == "HTTP 500" and log[2]["error"] is None
        # Only the first bytes of a large answer are kept.
        assert log[0]["response_excerpt"] == "x" * 512
        times = [datetime.fromisoformat(a["attempted_at"]) for a in log]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        assert all(gap >= DELAY * 0.9 for gap in gaps)
        assert len(target.received) == 3


async def test_timeouts_and_connection_errors_are_retried(webhook_settings: Settings) -> None:
    def slow_first(number: int) -> Answer:
        return Answer(200, b"late", delay=3.0) if number == 1 else Answer()

    async with service(webhook_settings) as client, receiver(slow_first) as target:
        endpoint = await create_endpoint(client, target.url)
        queued = (
            await client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=OWNER)
        ).json()
        delivery = await settled(client, endpoint["id"], queued["id"])
        assert [a["error"] for a in delivery["attempts"]] == ["timeout", None]
        assert delivery["status"] == "succeeded"

        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        unreachable = await create_endpoint(client, f"http://127.0.0.1:{port}/hooks")
        queued = (
            await client.post(f"/api/v1/webhooks/{unreachable['id']}/test", headers=OWNER)
        ).json()
        delivery = await settled(client, unreachable["id"], queued["id"])
        assert delivery["status"] == "failed"
        assert all(a["status_code"] is None for a in delivery["attempts"])
        assert all("Connect" in a["error"] for a in delivery["attempts"])


async def test_410_disables_the_endpoint_at_once(webhook_settings: Settings) -> None:
    async with (
        event_tap(webhook_settings.amqp_url, "webhook.endpoint.disabled") as tap,
        service(webhook_settings) as client,
        receiver(lambda _n: Answer(410, b"gone")) as target,
    ):
        endpoint = await create_endpoint(client, target.url)
        queued = (
            await client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=OWNER)
        ).json()
        shown = await disabled(client, endpoint["id"])
        assert "410" in shown["disabled_reason"]
        delivery = await settled(client, endpoint["id"], queued["id"])
        assert delivery["status"] == "failed" and delivery["attempt_count"] == 1
        announced = json.loads((await tap.message_about(endpoint["id"])).body)
        assert announced["data"]["reason"] == "gone"
        assert announced["data"]["owner"] == "key-a"
        again = await client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=OWNER)
        assert again.status_code == 409
        assert len(target.received) == 1


async def test_consecutive_failures_disable_and_announce_then_redelivery_works(
    webhook_settings: Settings,
) -> None:
    healthy = False

    def failing_until_fixed(_number: int) -> Answer:
        return Answer() if healthy else Answer(503, b"down")

    async with (
        event_tap(webhook_settings.amqp_url, "webhook.endpoint.disabled") as tap,
        service(webhook_settings) as client,
        receiver(failing_until_fixed) as target,
    ):
        endpoint = await create_endpoint(client, target.url)
        path = f"/api/v1/webhooks/{endpoint['id']}"
        queued = (await client.post(f"{path}/test", headers=OWNER)).json()
        await disabled(client, endpoint["id"])
        announced = json.loads((await tap.message_about(endpoint["id"])).body)
        assert announced["type"] == "webhook.endpoint.disabled"
        assert announced["data"]["reason"] == "failures"
        assert announced["data"]["consecutive_failures"] == 3
        delivery = await settled(client, endpoint["id"], queued["id"])
        assert delivery["status"] == "failed" and delivery["attempt_count"] == 3
        assert len(target.received) == 3

        healthy = True
        enabled = await client.patch(
            path, json={"enabled": True}, headers={**OWNER, "If-Match": "*"}
        )
        assert enabled.json()["enabled"] and enabled.json()["disabled_reason"] is None
        resent = await client.post(f"{path}/deliveries/{queued['id']}/redeliver", headers=OWNER)
        assert resent.status_code == 202
        assert resent.json()["redelivery_of"] == queued["id"]
        redelivered = await settled(client, endpoint["id"], resent.json()["id"])
        assert redelivered["status"] == "succeeded"
        assert verified(endpoint["secret"], target.received[3])["id"] == queued["event_id"]
        missing = await client.post(f"{path}/deliveries/{uuid.uuid4()}/redeliver", headers=OWNER)
        assert missing.status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hooks",
        "http://localhost/hooks",
        "http://10.1.2.3/hooks",
        "http://192.168.0.7/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hooks",
        "ftp://example.com/hooks",
    ],
)
async def test_urls_of_private_addresses_are_refused(webhook_settings: Settings, url: str) -> None:
    strict = webhook_settings.model_copy(update={"webhooks_allow_private": False})
    async with service(strict) as client:
        response = await client.post(
            "/api/v1/webhooks", json={"url": url, "event_types": ["*"]}, headers=OWNER
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in response.json()["errors"]] == ["url"]


async def test_a_restart_loses_no_pending_delivery_and_repeats_no_success(
    webhook_settings: Settings,
) -> None:
    slow_retry = webhook_settings.model_copy(update={"webhooks_retry_schedule": [0, 1.5]})
    async with receiver(lambda n: Answer(500) if n == 1 else Answer()) as target:
        async with service(slow_retry) as client:
            endpoint = await create_endpoint(client, target.url)
            path = f"/api/v1/webhooks/{endpoint['id']}"
            queued = (await client.post(f"{path}/test", headers=OWNER)).json()
            await target.wait_for(1)
        # The first process stopped with the delivery pending its retry.
        async with service(slow_retry) as client:
            (pending,) = await deliveries_of(client, endpoint["id"])
            assert pending["status"] == "pending"
            delivery = await settled(client, endpoint["id"], queued["id"])
            assert delivery["status"] == "succeeded"
        async with service(slow_retry) as client:
            await asyncio.sleep(2.0)  # several polls and a whole retry delay
            (delivery,) = await deliveries_of(client, endpoint["id"])
            assert delivery["status"] == "succeeded" and delivery["attempt_count"] == 2
        assert len(target.received) == 2


async def stored_secret(connection: AsyncConnection, endpoint_id: str) -> str:
    query = sa.text("SELECT secret FROM webhooks.endpoints WHERE id = :id")
    stored: str = (await connection.execute(query, {"id": endpoint_id})).scalar_one()
    return stored


async def test_secrets_are_sealed_at_rest_and_still_sign(
    webhook_settings: Settings, admin_connection: AsyncConnection
) -> None:
    key = webhook_settings.webhooks_secret_key.get_secret_value()
    async with service(webhook_settings) as client, receiver() as target:
        created = await create_endpoint(client, target.url, ["simulation.completed"])
        path = f"/api/v1/webhooks/{created['id']}"
        stored = await stored_secret(admin_connection, created["id"])
        assert stored.startswith("fernet:") and created["secret"] not in stored
        assert unseal(stored, key) == created["secret"]
        rotated = (await client.post(f"{path}/rotate-secret", headers=OWNER)).json()["secret"]
        resealed = await stored_secret(admin_connection, created["id"])
        assert rotated not in resealed and unseal(resealed, key) == rotated
        await client.post(f"{path}/test", headers=OWNER)
        (request,) = await target.wait_for(1)
        assert verified(rotated, request)["type"] == "webhook.test"

    # Another key cannot open it: the attempt fails, logged, and nothing is sent.
    other_key = webhook_settings.model_copy(
        update={"webhooks_secret_key": SecretStr(Fernet.generate_key().decode())}
    )
    async with service(other_key) as client, receiver() as target:
        queued = await client.post(f"{path}/test", headers=OWNER)
        assert queued.status_code in (200, 202), queued.text
        for _ in range(100):
            log = (await client.get(f"{path}/deliveries", headers=OWNER)).json()["items"]
            attempts = [a for d in log for a in d.get("attempts", [])]
            if any(a.get("error") for a in attempts):
                break
            await asyncio.sleep(0.05)
        errors = [a["error"] for a in attempts if a.get("error")]
        assert errors and "another FISCUS_WEBHOOKS_SECRET_KEY" in errors[0]
        assert target.received == []
