"""Telling a dependency's outage from a fault of the request or message, and riding it out.

While Postgres restarts or a connection drops, every call fails with an error that
says nothing about what was asked: an HTTP request answers 503 with Retry-After,
and a consumer waits and tries the same message again in place, rather than count
a delivery attempt against it (a few seconds of outage would otherwise dead-letter
real work).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# SQLSTATEs of a server that is going away or not there yet: class 08 (connection
# exception), admin/crash shutdown, "the database system is starting up", and too
# many connections.
_OUTAGE_SQLSTATE_CLASSES = ("08",)
_OUTAGE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
# How deep to follow `orig` / `__cause__` / `__context__` from the error raised.
_CHAIN_DEPTH = 8


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what caused it: the driver's error under SQLAlchemy's (`orig`), else
    `__cause__`, else `__context__`; at most a few deep."""
    seen: BaseException | None = exc
    for _ in range(_CHAIN_DEPTH):
        if seen is None:
            return
        yield seen
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__


def is_outage(exc: BaseException) -> bool:
    """True if `exc` (or what caused it) says a dependency is unreachable right now."""
    for seen in causes(exc):
        # ConnectionError covers refused and reset sockets and every AMQP connection error.
        if isinstance(seen, ConnectionError | TimeoutError | PoolTimeoutError):
            return True
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        sqlstate = getattr(seen, "sqlstate", None)
        if isinstance(sqlstate, str) and (
            sqlstate in _OUTAGE_SQLSTATES or sqlstate.startswith(_OUTAGE_SQLSTATE_CLASSES)
        ):
            return True
    return False


async def ride_out(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    patience_seconds: float,
    first_wait: float = 0.5,
    longest_wait: float = 5.0,
) -> T:
    """`await call()`, called again after a growing wait while it fails with an outage.

    Gives up after `patience_seconds` of outage and raises the last error; any other
    error is raised at once (tenacity: exponential waits from `first_wait` doubling up
    to `longest_wait`).
    """
    retrying = AsyncRetrying(
        retry=retry_if_exception(is_outage),
        wait=wait_exponential(multiplier=first_wait, min=first_wait, max=longest_wait),
        stop=stop_after_delay(patience_seconds),
        before_sleep=_waiting(what),
        reraise=True,
    )

    # A coroutine function: tenacity calls anything else (a lambda) without awaiting it.
    async def attempt() -> T:
        return await call()

    return await retrying(attempt)


def _waiting(what: str) -> Callable[[RetryCallState], None]:
    """The log line before each wait for a dependency."""

    def log_wait(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "%s waits for a dependency: %s: %s (retrying in %.1f s)",
            what,
            type(exc).__name__,
            exc,
            wait,
        )

    return log_wait
