"""The key material bearer JWTs are verified with, as configured.

`FISCUS_JWT_SECRET` (HS256), `FISCUS_JWT_JWKS_FILE` (a JWKS read at start) or
`FISCUS_JWT_JWKS_URL` (a JWKS fetched and cached by PyJWT, refreshed when a token
names an unknown `kid`). With none of them, the gateway accepts API keys only.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import jwt

from services.gateway.domain.auth import Principal
from services.gateway.domain.tokens import (
    ASYMMETRIC_ALGORITHMS,
    HMAC_ALGORITHMS,
    TokenRefused,
    TokenRules,
    key_id_of,
    verify,
)
from shared.settings import Settings

JWKS_TIMEOUT_SECONDS = 5


class TokenVerifier:
    """Verifies bearer JWTs against the configured secret or JWKS."""

    def __init__(self, settings: Settings) -> None:
        self.rules = TokenRules(
            role_claim=settings.jwt_role_claim,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
        )
        self._secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        self._jwks: jwt.PyJWKSet | None = None
        self._client: jwt.PyJWKClient | None = None
        if settings.jwt_jwks_file is not None:
            self._jwks = jwt.PyJWKSet.from_dict(json.loads(settings.jwt_jwks_file.read_text()))
        elif settings.jwt_jwks_url:
            self._client = jwt.PyJWKClient(
                settings.jwt_jwks_url, cache_keys=True, timeout=JWKS_TIMEOUT_SECONDS
            )

    @property
    def enabled(self) -> bool:
        return any((self._secret, self._jwks, self._client))

    async def principal(self, token: str) -> Principal:
        """The caller a token names; TokenRefused when it is not a valid, current token."""
        if self._secret is not None:
            return verify(token, self._secret, HMAC_ALGORITHMS, self.rules)
        key = await self._public_key(token)
        return verify(token, key, ASYMMETRIC_ALGORITHMS, self.rules)

    async def _public_key(self, token: str) -> Any:
        kid = key_id_of(token)
        if self._jwks is not None:
            keys = self._jwks.keys
            if kid is None and len(keys) == 1:
                return keys[0].key
            for candidate in keys:
                if candidate.key_id == kid:
                    return candidate.key
            raise TokenRefused(f"no key {kid!r} in the configured JWKS")
        if self._client is None:
            raise TokenRefused("bearer JWTs are not accepted here")
        try:
            # PyJWKClient fetches synchronously (and caches): keep it off the event loop.
            signing = await asyncio.to_thread(self._client.get_signing_key_from_jwt, token)
        except jwt.PyJWTError as exc:
            raise TokenRefused(f"no key for this token in the JWKS: {exc}") from exc
        return signing.key
