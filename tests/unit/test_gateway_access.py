"""Pure parts of the gateway's keys, roles, limits and idempotency."""

from __future__ import annotations

import hashlib
import json

import pytest

from services.gateway.domain.auth import refusal
from services.gateway.domain.idempotency import (
    Fingerprint,
    Verdict,
    fingerprint,
    is_remembered,
    key_error,
    storable_body,
    verdict,
)
from services.gateway.domain.keys import new_key_secret, prefix_of, secret_hash, secret_matches
from services.gateway.domain.rate_limits import (
    WindowState,
    parse_rate_limit,
    rate_limit_headers,
    retry_after,
)


def test_a_new_secret_carries_its_prefix_and_hashes_to_sha256() -> None:
    issued = new_key_secret()
    assert issued.secret.startswith(f"fk_{issued.prefix}_")
    assert prefix_of(issued.secret) == issued.prefix
    assert secret_hash(issued.secret) == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert secret_matches(issued.secret, secret_hash(issued.secret))
    assert not secret_matches(issued.secret + "x", secret_hash(issued.secret))
    assert new_key_secret().secret != issued.secret


@pytest.mark.parametrize(
    "token",
    ["", "fk_test_key", "fk_0123456789ab_", "xx_0123456789ab_abc", "fk_0123456789AB_abc"],
)
def test_tokens_not_shaped_like_a_key_have_no_prefix(token: str) -> None:
    assert prefix_of(token) is None


def test_a_random_part_may_hold_underscores() -> None:
    assert prefix_of("fk_0123456789ab_a_b-c") == "0123456789ab"


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        ("readonly", "GET", "/api/v1/policies", True),
        ("readonly", "POST", "/api/v1/policies", False),
        ("readonly", "PATCH", "/api/v1/policies/p", False),
        ("readonly", "DELETE", "/api/v1/simulations/s", False),
        ("readonly", "PUT", "/api/v1/x", False),
        ("readonly", "POST", "/api/v1/simulations/s/aggregates", True),
        ("readonly", "POST", "/api/v1/simulations/s/cancel", False),
        ("user", "POST", "/api/v1/simulations", True),
        ("user", "GET", "/api/v1/keys", True),
        ("user", "POST", "/api/v1/keys", False),
        ("user", "DELETE", "/api/v1/keys/k", False),
        ("admin", "POST", "/api/v1/keys", True),
        ("admin", "DELETE", "/api/v1/keys/k", True),
        ("user", "POST", "/api/v1/keysmith", True),
    ],
)
def test_role_rules(role: str, method: str, path: str, allowed: bool) -> None:
    assert (refusal(role, method, path) is None) == allowed  # type: ignore[arg-type]


def test_fingerprints_differ_by_method_path_and_body() -> None:
    base = fingerprint("post", "/api/v1/policies", b'{"a": 1}')
    assert base == Fingerprint("POST", "/api/v1/policies", hashlib.sha256(b'{"a": 1}').hexdigest())
    assert base != fingerprint("POST", "/api/v1/policies", b'{"a": 2}')
    assert base != fingerprint("POST", "/api/v1/datasets", b'{"a": 1}')
    assert base != fingerprint("PUT", "/api/v1/policies", b'{"a": 1}')


def test_verdicts() -> None:
    this = fingerprint("POST", "/p", b"1")
    other = fingerprint("POST", "/p", b"2")
    assert verdict(this, True, this) is Verdict.REPLAY
    assert verdict(this, False, this) is Verdict.IN_FLIGHT
    assert verdict(other, True, this) is Verdict.OTHER_REQUEST
    assert verdict(other, False, this) is Verdict.OTHER_REQUEST


def test_idempotency_key_shape() -> None:
    assert key_error("7c5e1a0e-4c1d-4e33-9a55-1b6f0c7c0f00") is None
    assert key_error("") is not None
    assert key_error("x" * 256) is not None
    assert key_error("caf\u00e9") is not None
    assert key_error("a\tb") is not None


def test_only_final_answers_are_remembered() -> None:
    assert all(is_remembered(status) for status in (200, 201, 202, 400, 404, 409, 422))
    assert not any(is_remembered(status) for status in (408, 429, 500, 502, 503, 504))


def test_a_new_keys_secret_is_never_remembered() -> None:
    body = json.dumps({"id": "k", "secret": "fk_x_y"}).encode()
    assert json.loads(storable_body("/api/v1/keys", body)) == {"id": "k"}
    assert storable_body("/api/v1/policies", body) == body
    assert storable_body("/api/v1/keys", b"not json") == b"not json"


def test_rate_limits_parse_or_refuse() -> None:
    item = parse_rate_limit("120/minute")
    assert item.amount == 120 and item.get_expiry() == 60
    assert parse_rate_limit("10 per second").get_expiry() == 1
    for text in ("lots", "0/minute", ""):
        with pytest.raises(ValueError):
            parse_rate_limit(text)


def test_rate_limit_headers() -> None:
    state = WindowState(allowed=True, limit=120, remaining=7, reset_at=1_000_030.2)
    headers = rate_limit_headers(state, now=1_000_000.0)
    assert headers == {
        "RateLimit-Limit": "120",
        "RateLimit-Remaining": "7",
        "RateLimit-Reset": "31",
        "X-RateLimit-Limit": "120",
        "X-RateLimit-Remaining": "7",
        "X-RateLimit-Reset": "1000031",
    }
    spent = WindowState(allowed=False, limit=3, remaining=-1, reset_at=1_000_000.0)
    assert rate_limit_headers(spent, now=1_000_000.5)["RateLimit-Remaining"] == "0"
    assert retry_after(spent, now=1_000_000.5) == "1"
