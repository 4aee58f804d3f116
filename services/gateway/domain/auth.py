"""API keys and the roles they carry."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "user", "readonly"]


@dataclass(frozen=True)
class Principal:
    """Who is calling."""

    key_id: str
    role: Role


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if that is what it is."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(token: str | None, admin_key: str | None) -> Principal | None:
    """The principal a token stands for; None for a missing or wrong token."""
    if token is None or not admin_key:
        return None
    if hmac.compare_digest(token.encode(), admin_key.encode()):
        return Principal(key_id="admin", role="admin")
    return None
