"""Pure rules of issue #6's access features: tokens, quota counting, audit targets,
entity tags, sorting and principals."""

from __future__ import annotations

import time

import jwt
import pytest
from pydantic import BaseModel

from services.gateway.domain.audit import is_audited, touched
from services.gateway.domain.quota import (
    BATCH_PATH,
    SIMULATIONS_PATH,
    accepted_simulations,
    simulations_requested,
)
from services.gateway.domain.tokens import (
    TokenRefused,
    TokenRules,
    looks_like_jwt,
    principal_id,
    verify,
)
from shared.etags import etag_of, matches, require_match
from shared.principals import INTERNAL, Caller, caller_of
from shared.problems import ProblemError
from shared.sorting import is_descending

SECRET = "unit-test-secret-of-enough-length-0123456789"


def signed(**claims: object) -> str:
    # Valid for a week: the parametrized tokens are signed when tests are collected,
    # which can be more than an hour before they run in a whole CI run.
    week = 7 * 24 * 3600
    return jwt.encode({"exp": int(time.time()) + week, **claims}, SECRET, algorithm="HS256")


def test_a_token_names_its_subject_and_role() -> None:
    principal = verify(signed(sub="alice", role="readonly"), SECRET, ["HS256"], TokenRules())
    assert (principal.key_id, principal.role) == ("jwt:alice", "readonly")
    custom = TokenRules(role_claim="fiscus_role")
    assert verify(signed(sub="b", fiscus_role="admin"), SECRET, ["HS256"], custom).role == "admin"
    long = "x" * 100
    assert len(principal_id(long)) <= 64 and principal_id(long) != principal_id(long + "y")


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (signed(sub="a", role="user", exp=int(time.time()) - 5), "expired"),
        (signed(sub="a", role="owner"), "role"),
        (signed(role="user"), "sub"),
        (jwt.encode({"sub": "a", "role": "user"}, SECRET, algorithm="HS256"), "exp"),
        (
            jwt.encode({"sub": "a", "role": "user", "exp": 2**31}, "other", algorithm="HS256"),
            "signature",
        ),
        (
            jwt.encode({"sub": "a", "role": "user", "exp": 2**31}, "", algorithm="none"),
            "alg value",
        ),
    ],
)
def test_a_faulty_token_is_refused_with_its_reason(token: str, reason: str) -> None:
    with pytest.raises(TokenRefused, match=f"(?i){reason}"):
        verify(token, SECRET, ["HS256"], TokenRules())


def test_audience_and_issuer_are_checked_when_configured() -> None:
    rules = TokenRules(audience="fiscus", issuer="https://idp")
    good = signed(sub="a", role="user", aud="fiscus", iss="https://idp")
    assert verify(good, SECRET, ["HS256"], rules).key_id == "jwt:a"
    for bad in (
        signed(sub="a", role="user", aud="x", iss="https://idp"),
        signed(sub="a", role="user"),
    ):
        with pytest.raises(TokenRefused):
            verify(bad, SECRET, ["HS256"], rules)


def test_api_keys_do_not_look_like_jwts() -> None:
    assert looks_like_jwt(signed(sub="a", role="user"))
    assert not looks_like_jwt("fk_0123456789ab_" + "A" * 64)
    assert not looks_like_jwt("a..b")


def test_only_new_simulations_count_against_the_quota() -> None:
    assert accepted_simulations(SIMULATIONS_PATH, 202, {}) == 1
    assert accepted_simulations(SIMULATIONS_PATH, 200, {}) == 0
    assert accepted_simulations(SIMULATIONS_PATH, 422, {}) == 0
    assert accepted_simulations(BATCH_PATH, 202, {"fiscus-simulations-accepted": "3"}) == 3
    assert accepted_simulations(BATCH_PATH, 200, {"fiscus-simulations-accepted": "0"}) == 0
    assert accepted_simulations(BATCH_PATH, 422, {"fiscus-simulations-accepted": "3"}) == 0
    assert simulations_requested(SIMULATIONS_PATH, b"{}") == 1
    assert simulations_requested(BATCH_PATH, b'{"simulations": [{}, {}, {}]}') == 3
    assert simulations_requested(BATCH_PATH, b"not json") == 1


def test_the_audit_names_the_resource_changed() -> None:
    assert is_audited("PATCH") and not is_audited("GET")
    assert touched("/api/v1/policies/p1", None) == touched(
        "/api/v1/policies", "/api/v1/policies/p1"
    )
    assert touched("/api/v1/policies/p1", None).resource_id == "p1"
    assert touched("/api/v1/simulations/s1/cancel", None).resource_id == "s1"
    batch = touched("/api/v1/simulations/batch", None)
    assert (batch.resource_type, batch.resource_id) == ("simulations", None)
    assert touched("/api/v1/datasets/synthetic", "/api/v1/datasets/d1").resource_id == "d1"
    assert touched("/healthz", None).resource_type is None


class Thing(BaseModel):
    name: str


def test_etags_are_strong_and_if_match_is_required() -> None:
    tag = etag_of(Thing(name="a"))
    assert tag == etag_of(Thing(name="a")) != etag_of(Thing(name="b"))
    assert matches(tag, tag) and matches("*", tag) and matches(f'"x", {tag}', tag)
    assert not matches(f"W/{tag}", tag) and not matches('"x"', tag)
    for header, status in ((None, 428), ("", 428), ('"x"', 412)):
        with pytest.raises(ProblemError) as refused:
            require_match(header, Thing(name="a"))
        assert refused.value.status == status
    require_match(tag, Thing(name="a"))


def test_sorting_and_principals() -> None:
    assert is_descending("-created_at") and not is_descending("created_at")
    with pytest.raises(ProblemError) as refused:
        is_descending("name")
    assert refused.value.errors[0].field == "sort"
    assert caller_of("jwt:alice:user") == Caller(key_id="jwt:alice", role="user")
    assert caller_of("k1:readonly") == Caller(key_id="k1", role="readonly")
    assert caller_of("nobody") is None
    assert Caller("k1", "user").may_see("k1") and not Caller("k1", "user").may_see(None)
    assert INTERNAL.may_see(None) and INTERNAL.owner is None
