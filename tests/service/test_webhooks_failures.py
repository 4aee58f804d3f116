"""The webhooks service when receivers fail or lie: disabling after 410 or repeated
failures, SSRF refusals, a restart mid-delivery, and secrets sealed at rest."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncConnection

from services.webhooks.domain.sealing import unseal
from shared.settings import Settings
from tests.service.bus import event_tap
from tests.service.webhook_receiver import Answer, receiver
from tests.service.webhooks_fixtures import (
    OWNER,
    create_endpoint,
    deliveries_of,
    disabled,
    service,
    settled,
    verified,
)


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
