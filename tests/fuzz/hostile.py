"""What the fuzzing properties share: how many examples each tries, the JSON of every
kind they send, and the tally of what they tried and saw (recorded by tests/fuzz/conftest.py).

Every answer must be a success or a 4xx problem+json naming the offending field, never
a 5xx.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.problems import assert_problem
from tests.reliability import scaled

# Examples per property: bounded so that the CI run takes about a minute (full: `make chaos`).
FEW, SOME, MANY = scaled(10, 50), scaled(40, 200), scaled(80, 400)
FUZZ = settings(
    max_examples=MANY,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# What each property tried and what it saw, recorded once the package is done.
TALLY: Counter[str] = Counter()
STATUSES: dict[str, Counter[int]] = {}
MEASURED: Counter[str] = Counter()


def seen(prop: str, answer: httpx.Response) -> None:
    TALLY[prop] += 1
    STATUSES.setdefault(prop, Counter())[answer.status_code] += 1
    assert answer.status_code < 500, f"{prop}: {answer.status_code} {answer.text[:2000]}"


def problem_of(answer: httpx.Response, *statuses: int) -> dict[str, Any]:
    """The problem document of a refusal with one of `statuses`; checks its shape."""
    assert answer.status_code in statuses, answer.text[:2000]
    return assert_problem(answer, answer.status_code, request_id=False)


def fields_of(problem: dict[str, Any]) -> list[str]:
    errors = problem.get("errors") or []
    assert errors, f"a refusal names no field: {problem}"
    for error in errors:
        assert isinstance(error["field"], str) and error["field"], problem
        assert isinstance(error["message"], str) and error["message"], problem
    return [error["field"] for error in errors]


# JSON of every kind, including what JSON has no room for (NaN, infinities) and sizes
# no reform needs.
HUGE_TEXT = "x" * 100_000
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**300, -(10**300), 2**63, -(2**63) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["Infinity", "-inf", "NaN", "", "\x00", HUGE_TEXT, "2026-01-01"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=8,
)
# Periods of parameter values: the forms PolicyEngine reads, forms it does not, any text.
PERIODS = st.one_of(
    st.sampled_from(
        [
            "2026",
            "2026-01",
            "2026-01-01",
            "2026-01-01.2100-12-31",
            "year:2026:3",
            "month:2026-01:2",
            "ETERNITY",
            "2026-13-45",
            "2100-12-31.2026-01-01",
            "year:2026:-1",
            "year:99999:1",
            "0000-01-01",
            "9" * 40,
            "2026-01-01.",
            "eternity",
        ]
    ),
    st.text(max_size=25),
)
JSON_BODY = {"content-type": "application/json"}


def sendable(body: Any) -> bytes:
    """`body` as JSON text, NaN and infinities included (Python writes and reads them)."""
    return json.dumps(body, allow_nan=True).encode()


@contextlib.asynccontextmanager
async def running(app: FastAPI, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` in the test process, its lifespan running."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client
