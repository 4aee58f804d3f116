"""Reforms to the policy service, over a tiny parameter tree (tests/parameter_trees.py):
stored, or refused as a 4xx problem naming the field, and a refusal changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.policy.domain.parameters import WarmParameterTree
from services.policy.main import create_app as policy_app
from shared.settings import Settings
from tests.fuzz.hostile import (
    FUZZ,
    JSON,
    PERIODS,
    SOME,
    fields_of,
    problem_of,
    running,
    seen,
    sendable,
)
from tests.parameter_trees import tiny_parameter_tree

POLICIES = "/api/v1/policies"
# Parameter paths of the tiny tree, and paths that name no parameter of it.
LEAVES = [
    "gov.credit.amount",
    "gov.credit.refundable",
    "gov.credit.coverage",
    "gov.credit.scale[0].amount",
    "gov.credit.scale[1].threshold",
]
NOT_LEAVES = [
    "gov",
    "gov.credit",
    "gov.credit.scale",
    "gov.credit.scale[0]",
    "gov.credit.scale[2].amount",
    "gov.credit.scale[99999999999999999999].amount",
    "gov.credit.amount.more",
    "gov.credit.amount[0]",
    "gov..credit",
    "",
    ".",
    "gov.credit.amout",
    "[0]",
    "gov.credit.scale[-1].amount",
    "gov.credit.scale[0x1].amount",
    "a." * 2000,
    "gov.__class__",
    "gov.credit.__dict__",
]
PATHS = st.one_of(st.sampled_from(LEAVES), st.sampled_from(NOT_LEAVES), st.text(max_size=40))
PARAMETER_VALUES = st.one_of(st.dictionaries(PERIODS, JSON, max_size=4), JSON)
VALID_PERIODS = st.sampled_from(["2026", "2027-01-01", "2026-01-01.2100-12-31", "year:2028:2"])
# Reforms the tiny tree accepts, so that storing is exercised as well as refusing.
VALID_REFORMS = st.fixed_dictionaries(
    {},
    optional={
        "gov.credit.amount": st.dictionaries(
            VALID_PERIODS,
            st.one_of(st.integers(-(10**12), 10**12), st.floats(-1e12, 1e12)),
            min_size=1,
            max_size=1,
        ),
        "gov.credit.refundable": st.dictionaries(
            VALID_PERIODS, st.booleans(), min_size=1, max_size=1
        ),
        "gov.credit.coverage": st.dictionaries(
            VALID_PERIODS, st.lists(st.text(max_size=8), max_size=3), min_size=1, max_size=1
        ),
        "gov.credit.scale[1].threshold": st.dictionaries(
            VALID_PERIODS, st.integers(0, 10**6), min_size=1, max_size=1
        ),
    },
).filter(bool)
REFORMS = st.one_of(
    VALID_REFORMS,
    st.dictionaries(PATHS, PARAMETER_VALUES, min_size=1, max_size=4),
    JSON,
    # One wrong parameter among right ones: the error names that one.
    st.builds(lambda good, bad: {**good, **bad}, VALID_REFORMS, st.dictionaries(PATHS, JSON)),
)


@pytest.fixture(scope="module")
async def database(migrated: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(make_url(migrated.database_url))
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
async def policies(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    warm = WarmParameterTree(tiny_parameter_tree)
    warm.wait(timeout=120)
    async with running(policy_app(migrated, parameter_tree=warm), "http://policy") as client:
        yield client


@pytest.fixture(scope="module")
async def stored_policy(policies: httpx.AsyncClient) -> dict[str, Any]:
    """A policy stored before the fuzzing starts, which no refused request may change."""
    answer = await policies.post(
        POLICIES,
        json={"name": "kept", "data": {"gov.credit.amount": {"2026-01-01.2100-12-31": 3000}}},
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return {**created, "etag": answer.headers["etag"]}


async def policy_rows(database: AsyncEngine) -> tuple[int, int, str]:
    async with database.connect() as connection:
        rows = await connection.scalar(sa.text("SELECT count(*) FROM policy.policies"))
        events = await connection.scalar(sa.text("SELECT count(*) FROM policy.outbox"))
        digest = await connection.scalar(
            sa.text(
                "SELECT md5(string_agg(id::text || name || coalesce(description, '') "
                "|| data::text || updated_at::text, ',' ORDER BY id)) FROM policy.policies"
            )
        )
    return int(rows or 0), int(events or 0), str(digest)


def data_fields_are_named(fields: list[str], data: Any) -> None:
    """Each error about the reform names `data` itself or one parameter path in it."""
    paths = [str(path) for path in data] if isinstance(data, dict) else []
    for field in fields:
        if field.startswith("body"):
            continue
        assert field == "data" or any(field.startswith(f"data.{path}") for path in paths), (
            field,
            paths[:5],
        )


@FUZZ
@given(data=REFORMS, name=st.one_of(st.text(min_size=1, max_size=30), JSON))
async def test_reforms_are_stored_or_refused_naming_the_field(
    policies: httpx.AsyncClient,
    database: AsyncEngine,
    stored_policy: dict[str, Any],
    data: Any,
    name: Any,
) -> None:
    before = await policy_rows(database)
    answer = await policies.post(
        POLICIES,
        content=sendable({"name": name, "data": data}),
        headers={"content-type": "application/json"},
    )
    seen("reform", answer)
    after = await policy_rows(database)
    if answer.status_code == 201:
        assert after[:2] == (before[0] + 1, before[1] + 1)
        assert answer.json()["data"] == data
        return
    problem = problem_of(answer, 422)
    data_fields_are_named(fields_of(problem), data)
    assert after == before


@settings(max_examples=SOME, deadline=None)
@given(
    body=st.one_of(
        JSON,
        st.binary(max_size=200),
        st.fixed_dictionaries({"name": JSON, "data": REFORMS}, optional={"extra": JSON}),
    ),
    content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form"]),
)
async def test_malformed_policy_bodies_are_4xx_problems(
    policies: httpx.AsyncClient,
    database: AsyncEngine,
    stored_policy: dict[str, Any],
    body: Any,
    content_type: str,
) -> None:
    before = await policy_rows(database)
    content = body if isinstance(body, bytes) else sendable(body)
    answer = await policies.post(POLICIES, content=content, headers={"content-type": content_type})
    seen("policy body", answer)
    if answer.status_code == 201:
        return
    problem = problem_of(answer, 400, 415, 422)
    if answer.status_code == 400:
        # A body that is not even text (invalid UTF-8): the body as a whole is at fault.
        assert "body" in problem["detail"], problem
    else:
        fields_of(problem)
    assert await policy_rows(database) == before


@settings(max_examples=SOME, deadline=None)
@given(
    change=st.one_of(JSON, st.fixed_dictionaries({}, optional={"name": JSON, "description": JSON})),
    if_match=st.one_of(st.none(), st.text(max_size=40), st.sampled_from(['"0"', "W/*", '""'])),
    policy_id=st.one_of(st.none(), st.text(max_size=40)),
)
async def test_changes_without_the_right_etag_change_nothing(
    policies: httpx.AsyncClient,
    database: AsyncEngine,
    stored_policy: dict[str, Any],
    change: Any,
    if_match: str | None,
    policy_id: str | None,
) -> None:
    if if_match in (stored_policy["etag"], "*"):
        if_match = None
    before = await policy_rows(database)
    target = stored_policy["id"] if policy_id is None else policy_id
    headers = {"content-type": "application/json"}
    if if_match is not None:
        headers["if-match"] = if_match.encode("ascii", "replace").decode()
    if target in ("", ".", ".."):
        target = stored_policy["id"]
    url = f"{POLICIES}/{quote(target, safe='')}"
    answer = await policies.patch(url, content=sendable(change), headers=headers)
    seen("policy patch", answer)
    problem_of(answer, 400, 404, 405, 412, 422, 428)
    assert await policy_rows(database) == before
    kept = await policies.get(f"{POLICIES}/{stored_policy['id']}")
    assert kept.headers["etag"] == stored_policy["etag"]
