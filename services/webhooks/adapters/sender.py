"""One HTTP attempt of a delivery: signed, pinned to a checked address, bounded."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from services.webhooks.adapters.targets import RefusedTarget, checked_address
from services.webhooks.domain.endpoints import excerpt
from services.webhooks.domain.signing import signed_headers
from shared.settings import Settings

USER_AGENT = "Fiscus-Webhooks/1"


@dataclass(frozen=True)
class AttemptOutcome:
    """What one attempt did, as the delivery log records it."""

    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    response_excerpt: str | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


def unsigned(reason: str) -> AttemptOutcome:
    """An attempt not made, since the delivery cannot be signed: a failure, logged."""
    return AttemptOutcome(
        attempted_at=datetime.now(UTC),
        status_code=None,
        latency_ms=0,
        response_excerpt=None,
        error=reason,
    )


def http_client(settings: Settings) -> httpx.AsyncClient:
    """The client of the delivery loop: no redirects, no proxies from the environment."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(settings.webhooks_timeout_seconds),
        headers={"user-agent": USER_AGENT},
    )


async def attempt(
    client: httpx.AsyncClient,
    settings: Settings,
    *,
    url: str,
    secret: str,
    message_id: str,
    body: str,
) -> AttemptOutcome:
    """POST `body` to `url`, signed with `secret`; never raises for the receiver's faults."""
    attempted_at = datetime.now(UTC)
    started = time.perf_counter()

    def outcome(status: int | None, content: bytes | None, error: str | None) -> AttemptOutcome:
        return AttemptOutcome(
            attempted_at=attempted_at,
            status_code=status,
            latency_ms=round((time.perf_counter() - started) * 1000),
            response_excerpt=excerpt(content) if content is not None else None,
            error=error,
        )

    try:
        address = await checked_address(url, allow_private=settings.webhooks_allow_private)
    except RefusedTarget as exc:
        return outcome(None, None, f"refused: {exc}")
    target = httpx.URL(url)
    headers = {
        "content-type": "application/cloudevents+json",
        # The connection goes to the checked address; the host keeps its name.
        "host": target.netloc.decode("ascii"),
        **signed_headers(secret, message_id, attempted_at, body),
    }
    request = client.build_request(
        "POST",
        target.copy_with(host=address),
        content=body.encode(),
        headers=headers,
        extensions={"sni_hostname": target.host},
    )
    try:
        async with asyncio.timeout(settings.webhooks_timeout_seconds):
            response = await client.send(request, stream=True)
            try:
                content = await read_capped(response, settings.webhooks_response_max_bytes)
            finally:
                await response.aclose()
    except TimeoutError:
        return outcome(None, None, "timeout")
    except httpx.TimeoutException:
        return outcome(None, None, "timeout")
    except httpx.HTTPError as exc:
        return outcome(None, None, f"{type(exc).__name__}: {exc}"[:500])
    error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return outcome(response.status_code, content, error)


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """At most `limit` bytes of the body; the rest is never read."""
    received = bytearray()
    async for chunk in response.aiter_raw():
        received.extend(chunk[: limit - len(received)])
        if len(received) >= limit:
            break
    return bytes(received)
