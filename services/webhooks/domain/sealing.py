"""Endpoint signing secrets sealed at rest: the database holds them encrypted.

A secret is sealed with the deployment's `webhooks_secret_key` (Fernet) when it is made
and unsealed only to sign a delivery; a database dump alone signs nothing. A row
written before secrets were sealed holds the secret as it is (`whsec_...`): it is read
as it is, and the migration that introduced sealing sealed those it found.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

SEALED_PREFIX = "fernet:"


class UnsealableSecret(ValueError):
    """A sealed secret the configured key does not open (the key was changed)."""


def seal(secret: str, key: str) -> str:
    return SEALED_PREFIX + Fernet(key.encode()).encrypt(secret.encode()).decode()


def unseal(stored: str, key: str) -> str:
    if not stored.startswith(SEALED_PREFIX):
        return stored
    try:
        return Fernet(key.encode()).decrypt(stored[len(SEALED_PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise UnsealableSecret(
            "the endpoint's secret was sealed with another FISCUS_WEBHOOKS_SECRET_KEY"
        ) from exc


def is_sealed(stored: str) -> bool:
    return stored.startswith(SEALED_PREFIX)
