"""Rate limits as text ("120/minute"), and the headers that tell a client where it stands."""

from __future__ import annotations

import math
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerDay, parse


def parse_rate_limit(text: str) -> RateLimitItem:
    """One limit such as "120/minute" or "10 per second"; ValueError otherwise."""
    try:
        item = parse(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a rate limit like '120/minute'") from exc
    if item.amount < 1:
        raise ValueError("a rate limit allows at least one request")
    return item


def daily_quota(amount: int) -> RateLimitItem:
    return RateLimitItemPerDay(amount)


@dataclass(frozen=True)
class WindowState:
    """A key's standing in one moving window after a request."""

    allowed: bool
    limit: int
    remaining: int
    # Epoch seconds when the oldest request in the window leaves it.
    reset_at: float

    def seconds_to_reset(self, now: float) -> int:
        return max(0, math.ceil(self.reset_at - now))


def rate_limit_headers(state: WindowState, now: float) -> dict[str, str]:
    """The IETF draft `RateLimit-*` headers (reset in seconds) and the `X-RateLimit-*`
    ones (reset as an epoch time), as GitHub and others send them."""
    remaining = str(max(0, state.remaining))
    return {
        "RateLimit-Limit": str(state.limit),
        "RateLimit-Remaining": remaining,
        "RateLimit-Reset": str(state.seconds_to_reset(now)),
        "X-RateLimit-Limit": str(state.limit),
        "X-RateLimit-Remaining": remaining,
        "X-RateLimit-Reset": str(math.ceil(state.reset_at)),
    }


def retry_after(state: WindowState, now: float) -> str:
    return str(max(1, state.seconds_to_reset(now)))
