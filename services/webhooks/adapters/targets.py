"""The SSRF guard: a webhook goes only to a public address its host resolves to."""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

from services.webhooks.domain.addresses import refusal, url_problem


class RefusedTarget(Exception):
    """The URL must not be sent to; the message says why."""


async def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, in the resolver's order."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


async def checked_address(url: str, *, allow_private: bool) -> str:
    """The address to connect to for `url`, after checking every address its host
    resolves to; RefusedTarget if the URL is malformed, does not resolve or any of
    its addresses is forbidden."""
    problem = url_problem(url)
    if problem is not None:
        raise RefusedTarget(problem)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = await resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise RefusedTarget(f"the host {host} does not resolve") from exc
    if not addresses:
        raise RefusedTarget(f"the host {host} does not resolve")
    for address in addresses:
        reason = refusal(address.split("%", 1)[0], allow_private=allow_private)
        if reason is not None:
            raise RefusedTarget(f"the host {host} resolves to {reason}")
    return addresses[0]
