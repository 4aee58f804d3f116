"""Endpoint secrets sealed at rest with the deployment's key."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from services.webhooks.domain.sealing import UnsealableSecret, is_sealed, seal, unseal
from shared.settings import PLACEHOLDER_WEBHOOKS_SECRET_KEY, Settings

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_a_sealed_secret_opens_with_its_key_only() -> None:
    key, other = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = seal(SECRET, key)
    assert is_sealed(sealed) and SECRET not in sealed
    assert seal(SECRET, key) != sealed  # a fresh IV each time
    assert unseal(sealed, key) == SECRET
    with pytest.raises(UnsealableSecret, match="another FISCUS_WEBHOOKS_SECRET_KEY"):
        unseal(sealed, other)


def test_a_secret_stored_before_sealing_reads_as_it_is() -> None:
    assert unseal(SECRET, PLACEHOLDER_WEBHOOKS_SECRET_KEY) == SECRET


def test_production_refuses_the_development_key() -> None:
    with pytest.raises(ValueError, match="FISCUS_WEBHOOKS_SECRET_KEY"):
        Settings(environment="production", db_password=SecretStr("a real password"))
    Settings(
        environment="production",
        db_password=SecretStr("a real password"),
        webhooks_secret_key=SecretStr(Fernet.generate_key().decode()),
    )
