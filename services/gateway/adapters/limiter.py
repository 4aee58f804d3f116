"""Per-key moving windows on Redis: the request rate and the daily simulation quota."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import redis.asyncio as redis
from limits import RateLimitItem
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from services.gateway.domain.rate_limits import WindowState
from shared.settings import Settings

T = TypeVar("T")


class LimiterUnavailable(Exception):
    """Redis did not answer in time; limited routes cannot be served."""


class KeyLimiter:
    """Counts each API key's requests and simulations in moving windows."""

    def __init__(self, settings: Settings) -> None:
        self._timeout = settings.redis_timeout_seconds
        # No retries: one bounded attempt, so an outage costs a caller about one timeout.
        self._pool = redis.ConnectionPool.from_url(
            settings.redis_url,
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self.storage = RedisStorage(
            "async+" + settings.redis_url,
            implementation="redispy",
            key_prefix=settings.redis_key_prefix,
            wrap_exceptions=True,
            connection_pool=self._pool,  # type: ignore[arg-type]
        )
        self._windows = MovingWindowRateLimiter(self.storage)

    async def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> WindowState:
        """Count `cost` requests against `item`, unless the window has no room for them."""
        return await self._bounded(self._hit(item, *identifiers, cost=cost))

    async def peek(self, item: RateLimitItem, *identifiers: str) -> WindowState:
        """Where the window stands, counting nothing."""
        return await self._bounded(self._stats(item, True, *identifiers))

    async def ping(self) -> None:
        await self._bounded(self._ping())

    async def close(self) -> None:
        await self._pool.aclose()

    async def _hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> WindowState:
        allowed = await self._windows.hit(item, *identifiers, cost=cost)
        return await self._stats(item, allowed, *identifiers)

    async def _stats(self, item: RateLimitItem, allowed: bool, *identifiers: str) -> WindowState:
        stats = await self._windows.get_window_stats(item, *identifiers)
        return WindowState(
            allowed=allowed and stats.remaining >= 0,
            limit=item.amount,
            remaining=stats.remaining,
            reset_at=stats.reset_time,
        )

    async def _ping(self) -> None:
        await redis.Redis(connection_pool=self._pool).ping()

    async def _bounded(self, call: Coroutine[Any, Any, T]) -> T:
        # Belt and braces over the socket timeouts: DNS or a half-open socket never hangs us.
        try:
            async with asyncio.timeout(self._timeout * 2):
                return await call
        except (TimeoutError, StorageError, redis.RedisError, OSError) as exc:
            raise LimiterUnavailable(f"{type(exc).__name__}: {exc}") from exc
