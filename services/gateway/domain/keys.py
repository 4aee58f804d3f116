"""API key secrets: their format, and the hash that is all the gateway keeps of them.

A secret reads `fk_<prefix>_<random>`: the prefix finds the key's row, the hash of the
whole secret proves the caller holds it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

SCHEME = "fk"
_PREFIX = re.compile(r"^[0-9a-f]{12}$")


@dataclass(frozen=True)
class KeySecret:
    prefix: str
    secret: str


def new_key_secret() -> KeySecret:
    """A fresh secret with 48 random bytes behind its lookup prefix."""
    prefix = secrets.token_hex(6)
    return KeySecret(prefix=prefix, secret=f"{SCHEME}_{prefix}_{secrets.token_urlsafe(48)}")


def prefix_of(token: str) -> str | None:
    """The lookup prefix of a token shaped like a key secret, else None."""
    scheme, _, rest = token.partition("_")
    prefix, _, random = rest.partition("_")
    if scheme != SCHEME or not random or not _PREFIX.match(prefix):
        return None
    return prefix


def secret_hash(secret: str) -> str:
    """SHA-256 of the secret; the random part is long enough that no salt is needed."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(secret_hash(secret), stored_hash)
