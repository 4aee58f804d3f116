"""Bearer JWTs: which tokens are JWTs, and the principal a verified token names.

A token is verified against one key (an HS256 secret, or the JWKS key its `kid`
names); it must carry `exp` (checked), `sub` (who) and a role claim (admin, user or
readonly). The principal's id is `jwt:<sub>`, so a token subject never collides
with an API key's id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from services.gateway.domain.auth import ROLES, Principal, Role

HMAC_ALGORITHMS = ("HS256",)
# Never `none`, never HMAC with a public key: JWKS keys are asymmetric only.
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
SUBJECT_PREFIX = "jwt:"
# Owners are stored in 64 characters; a longer subject is named by its hash.
MAX_ID_LENGTH = 64


class TokenRefused(Exception):
    """The token is not a valid, current JWT of a known role; the message says why."""


@dataclass(frozen=True)
class TokenRules:
    """What a valid token must say besides its signature and expiry."""

    role_claim: str = "role"
    audience: str = ""
    issuer: str = ""


def looks_like_jwt(token: str) -> bool:
    """Whether a bearer token has a JWT's three dot-separated parts."""
    return token.count(".") == 2 and all(token.split("."))


def key_id_of(token: str) -> str | None:
    """The `kid` of an unverified token's header, if any; TokenRefused if unreadable."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenRefused(f"not a readable JWT: {exc}") from exc
    kid = header.get("kid")
    return str(kid) if kid is not None else None


def principal_id(subject: str) -> str:
    identifier = SUBJECT_PREFIX + subject
    if len(identifier) <= MAX_ID_LENGTH:
        return identifier
    return SUBJECT_PREFIX + hashlib.sha256(subject.encode()).hexdigest()[:40]


def principal_of_claims(claims: Mapping[str, Any], rules: TokenRules) -> Principal:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise TokenRefused("the token names no subject (`sub`)")
    role = claims.get(rules.role_claim)
    if role not in ROLES:
        raise TokenRefused(
            f"the token's `{rules.role_claim}` claim must be one of {', '.join(ROLES)}"
        )
    valid_role: Role = role
    return Principal(key_id=principal_id(subject), role=valid_role)


def verify(token: str, key: Any, algorithms: Sequence[str], rules: TokenRules) -> Principal:
    """The principal of a token signed with `key`; TokenRefused for any fault in it."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=list(algorithms),
            audience=rules.audience or None,
            issuer=rules.issuer or None,
            options={"require": ["exp", "sub"], "verify_aud": bool(rules.audience)},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenRefused("the token has expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenRefused(f"the token is not valid: {exc}") from exc
    return principal_of_claims(claims, rules)
