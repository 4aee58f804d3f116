"""Who is calling, with which role, and what that role may do."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "user", "readonly"]
ROLES: tuple[Role, ...] = ("admin", "user", "readonly")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KEYS_PATH = "/api/v1/keys"
AGGREGATES_PATH = re.compile(r"^/api/v1/simulations/[^/]+/aggregates$")
# A household calculation changes nothing: any key may ask for one (also as v1's route).
HOUSEHOLD_CALCULATION_PATHS = ("/api/v1/households/calculate", "/us/calculate")


@dataclass(frozen=True)
class Principal:
    """Who is calling, and the limits of their key (None: the gateway's defaults)."""

    key_id: str
    role: Role
    rate_limit: str | None = None
    daily_simulation_quota: int | None = None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if that is what it is."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(token: str | None, admin_key: str | None) -> Principal | None:
    """The bootstrap admin if `token` is the configured admin key; None otherwise."""
    if token is None or not admin_key:
        return None
    if hmac.compare_digest(token.encode(), admin_key.encode()):
        return Principal(key_id="admin", role="admin")
    return None


def refusal(role: Role, method: str, path: str) -> str | None:
    """Why `role` may not call `method path`, or None when it may."""
    # A custom aggregate is a read, asked for with POST because it carries a query.
    writes = (
        method.upper() in WRITE_METHODS
        and not AGGREGATES_PATH.match(path)
        and path not in HOUSEHOLD_CALCULATION_PATHS
    )
    if role == "readonly" and writes:
        return "a readonly key cannot change anything"
    on_keys = path == KEYS_PATH or path.startswith(KEYS_PATH + "/")
    if on_keys and writes and role != "admin":
        return "only an admin key can create or revoke keys"
    return None
