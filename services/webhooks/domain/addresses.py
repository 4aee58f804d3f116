"""Which addresses a webhook may be sent to (the SSRF guard's rules)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance-metadata services: never a webhook receiver, even in development.
METADATA_ADDRESSES: frozenset[Address] = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


def refusal(address: str, *, allow_private: bool) -> str | None:
    """Why a webhook must not be sent to `address`, or None when it may.

    With `allow_private` (local development and tests) loopback, private and
    link-local addresses are allowed; metadata, multicast, unspecified and reserved
    ones never are.
    """
    ip: Address = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return f"{ip} is a cloud metadata address"
    if ip.is_multicast:
        return f"{ip} is a multicast address"
    if ip.is_unspecified:
        return f"{ip} is an unspecified address"
    if ip.is_loopback:
        return None if allow_private else f"{ip} is a loopback address"
    if ip.is_link_local:
        return None if allow_private else f"{ip} is a link-local address"
    if ip.is_reserved:
        return f"{ip} is a reserved address"
    if ip.is_private or not ip.is_global:
        return None if allow_private else f"{ip} is a private address"
    return None


def url_problem(url: str) -> str | None:
    """What is wrong with the form of a webhook URL, or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return "the scheme must be http or https"
    if not parts.hostname:
        return "the URL has no host"
    if port == 0:
        return "port 0 cannot be reached"
    return None
