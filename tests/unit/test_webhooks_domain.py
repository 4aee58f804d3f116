"""The webhooks service's pure rules: retry schedule, SSRF address rules, signatures."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from services.webhooks.domain.addresses import refusal, url_problem
from services.webhooks.domain.endpoints import (
    SUBSCRIBABLE_EVENT_TYPES,
    consumer_name,
    unknown_event_types,
)
from services.webhooks.domain.schedule import retry_delay
from services.webhooks.domain.signing import new_secret, signed_headers
from shared.principals import caller_of

SCHEDULE = [0, 5, 300, 1800, 7200, 18000, 36000]


def test_the_schedule_gives_each_delay_in_turn_then_none() -> None:
    delays = [retry_delay(n, SCHEDULE, jitter=0.0) for n in range(len(SCHEDULE) + 1)]
    assert delays == [0, 5, 300, 1800, 7200, 18000, 36000, None]


def test_jitter_stays_within_its_fraction_and_varies() -> None:
    rng = random.Random(7)
    delays = [retry_delay(2, SCHEDULE, jitter=0.1, rng=rng) for _ in range(200)]
    assert all(d is not None and 270 <= d <= 330 for d in delays)
    assert len(set(delays)) > 100
    assert retry_delay(0, SCHEDULE, jitter=0.1, rng=rng) == 0


def test_negative_attempt_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        retry_delay(-1, SCHEDULE, jitter=0.1)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.10",
        "169.254.10.1",
        "fe80::1",
        "fc00::1",
        "100.64.0.1",
        "::ffff:127.0.0.1",
    ],
)
def test_loopback_private_and_link_local_are_refused_unless_allowed(address: str) -> None:
    assert refusal(address, allow_private=False) is not None
    assert refusal(address, allow_private=True) is None


@pytest.mark.parametrize(
    "address", ["169.254.169.254", "fd00:ec2::254", "224.0.0.1", "ff02::1", "0.0.0.0", "240.0.0.1"]
)
def test_metadata_multicast_unspecified_and_reserved_are_always_refused(address: str) -> None:
    assert refusal(address, allow_private=False) is not None
    assert refusal(address, allow_private=True) is not None


def test_the_metadata_address_is_named_as_such() -> None:
    assert "metadata" in (refusal("169.254.169.254", allow_private=False) or "")


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111", "8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(address, allow_private=False) is None


@pytest.mark.parametrize(
    ("url", "fine"),
    [
        ("https://example.com/hook", True),
        ("http://example.com:8080/hook", True),
        ("ftp://example.com/", False),
        ("file:///etc/passwd", False),
        ("https:///nohost", False),
        ("https://example.com:99999/", False),
        ("example.com/hook", False),
    ],
)
def test_url_forms(url: str, fine: bool) -> None:
    assert (url_problem(url) is None) is fine


def test_signed_headers_verify_with_standardwebhooks() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    body = '{"specversion":"1.0","type":"webhook.test","data":{"a":1}}'
    headers = signed_headers(secret, "msg-1", datetime.now(UTC), body)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-id"] == "msg-1"
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers) == {
        "specversion": "1.0",
        "type": "webhook.test",
        "data": {"a": 1},
    }


def test_a_changed_body_or_another_secret_fails_verification() -> None:
    secret = new_secret()
    headers = signed_headers(secret, "msg-2", datetime.now(UTC), '{"a":1}')
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify('{"a":2}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify('{"a":1}', headers)


def test_secrets_differ() -> None:
    assert len({new_secret() for _ in range(20)}) == 20


def test_caller_header() -> None:
    caller = caller_of("key-1:user")
    assert caller is not None and caller.key_id == "key-1" and not caller.is_admin
    assert caller.may_see("key-1") and not caller.may_see("key-2")
    admin = caller_of("admin:admin")
    assert admin is not None and admin.may_see("key-2")
    assert caller_of(None) is None
    assert caller_of("no-role") is None
    assert caller_of(":user") is None


def test_event_types_and_consumers() -> None:
    assert {"simulation.completed", "simulation.failed", "report.completed"} <= set(
        SUBSCRIBABLE_EVENT_TYPES
    )
    assert "webhook.endpoint.disabled" not in SUBSCRIBABLE_EVENT_TYPES
    assert unknown_event_types(["*", "report.completed", "nope"]) == ["nope"]
    assert consumer_name("simulation.completed") == "webhooks.simulation-completed"


def test_the_gateway_routes_webhooks_to_the_webhooks_service() -> None:
    from services.gateway.domain.routing import UPSTREAMS, owner_of

    assert owner_of("/api/v1/webhooks") == "webhooks"
    assert owner_of("/api/v1/webhooks/e1/deliveries/d1/redeliver") == "webhooks"
    assert "webhooks" in UPSTREAMS
