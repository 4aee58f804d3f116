"""Idempotency-Key: which earlier request a retry is, and what to answer it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import Enum

from services.gateway.domain.auth import KEYS_PATH

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Fingerprint:
    """What makes two requests the same request."""

    method: str
    path: str
    body_sha256: str


def fingerprint(method: str, path: str, body: bytes) -> Fingerprint:
    return Fingerprint(method.upper(), path, hashlib.sha256(body).hexdigest())


def key_error(idempotency_key: str) -> str | None:
    """Why a header value cannot be an idempotency key, or None when it can."""
    if not idempotency_key or len(idempotency_key) > MAX_KEY_LENGTH:
        return f"must be 1 to {MAX_KEY_LENGTH} characters"
    if not idempotency_key.isprintable() or not idempotency_key.isascii():
        return "must be printable ASCII"
    return None


class Verdict(Enum):
    """What to do with a request whose key was seen before."""

    REPLAY = "replay"
    OTHER_REQUEST = "other-request"
    IN_FLIGHT = "in-flight"


def verdict(stored: Fingerprint, completed: bool, request: Fingerprint) -> Verdict:
    """A key reused for another request is a client bug even while the first runs."""
    if stored != request:
        return Verdict.OTHER_REQUEST
    return Verdict.REPLAY if completed else Verdict.IN_FLIGHT


def is_remembered(status: int) -> bool:
    """Whether an answer is final: failures on our side and limits are worth a retry."""
    return status < 500 and status not in (408, 429)


def storable_body(path: str, body: bytes) -> bytes:
    """The body to remember: a new key's secret is shown once, so a replay omits it."""
    if path.rstrip("/") != KEYS_PATH:
        return body
    try:
        document = json.loads(body)
    except ValueError:
        return body
    if isinstance(document, dict) and "secret" in document:
        del document["secret"]
        return json.dumps(document).encode()
    return body
