"""The webhooks service on the real Postgres and RabbitMQ, delivering to real HTTP
receivers on 127.0.0.1: owned endpoints, signed deliveries, retries on the schedule."""

from __future__ import annotations

import itertools
import json
import socket
from datetime import datetime

from contracts.envelope import CloudEvent
from contracts.events.report.v1 import ReportCompleted
from shared.settings import Settings
from tests.service.bus import publish
from tests.service.webhook_receiver import Answer, receiver
from tests.service.webhooks_fixtures import (
    ADMIN,
    DELAY,
    OTHER,
    OWNER,
    completed_event,
    create_endpoint,
    deliveries_of,
    service,
    settled,
    verified,
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
