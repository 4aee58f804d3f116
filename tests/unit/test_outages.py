"""Which errors are outages, and how a call rides one out."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from shared.outages import causes, is_outage, ride_out


class PostgresError(Exception):
    """Stands for a driver error: it carries a SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def wrapped(orig: BaseException, *, invalidated: bool = False) -> DBAPIError:
    return OperationalError("SELECT 1", {}, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "refused"),
        ConnectionResetError(),
        TimeoutError(),
        PoolTimeoutError("QueuePool limit reached"),
        wrapped(Exception("connection is closed"), invalidated=True),
        wrapped(PostgresError("57P01")),  # admin shutdown
        wrapped(PostgresError("57P03")),  # the database system is starting up
        wrapped(PostgresError("08006")),  # connection failure
        wrapped(PostgresError("53300")),  # too many connections
    ],
)
def test_errors_of_an_unreachable_dependency_are_outages(error: BaseException) -> None:
    assert is_outage(error)


def test_an_outage_is_found_behind_the_error_it_caused() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "refused")
        except ConnectionRefusedError as cause:
            raise RuntimeError("could not load") from cause
    except RuntimeError as error:
        assert is_outage(error)


def test_causes_go_from_the_error_raised_to_the_driver_error_under_it() -> None:
    driver = PostgresError("22021")
    try:
        try:
            raise wrapped(driver)
        except OperationalError:
            raise KeyError("handling it failed") from None
    except KeyError as error:
        handling = error
    # `from None` hides the context from tracebacks, not from the chain of causes.
    chain = list(causes(handling))
    assert [type(e) for e in chain] == [KeyError, OperationalError, PostgresError]
    assert chain[-1] is driver


def test_causes_stop_a_few_deep_on_a_cycle() -> None:
    first, second = ValueError("a"), ValueError("b")
    first.__cause__, second.__cause__ = second, first
    assert len(list(causes(first))) == 8


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad input"),
        IntegrityError("INSERT", {}, PostgresError("23505")),  # unique violation
        DBAPIError("SELECT", {}, PostgresError("22021")),  # NUL in text
        FileNotFoundError("no such dataset"),
    ],
)
def test_errors_of_the_request_or_message_are_not_outages(error: BaseException) -> None:
    assert not is_outage(error)


async def test_a_call_is_retried_through_an_outage() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionRefusedError(111, "refused")
        return "done"

    answer = await ride_out(flaky, what="test", patience_seconds=5, first_wait=0.01)
    assert (answer, calls) == ("done", 3)


async def test_other_errors_are_raised_at_once() -> None:
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("bad")

    with pytest.raises(ValueError):
        await ride_out(broken, what="test", patience_seconds=5, first_wait=0.01)
    assert calls == 1


async def test_patience_runs_out() -> None:
    calls = 0

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionRefusedError(111, "refused")

    started = asyncio.get_running_loop().time()
    with pytest.raises(ConnectionRefusedError):
        await ride_out(down, what="test", patience_seconds=0.1, first_wait=0.02, longest_wait=0.04)
    assert asyncio.get_running_loop().time() - started < 1
    assert calls >= 3
