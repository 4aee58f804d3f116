"""Keyset pagination shared by the list routes: cursors, pages, the query and the parameters."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy.dialects import postgresql as pg

from shared.pagination import (
    DEFAULT_PAGE,
    MAX_PAGE,
    NOT_A_CURSOR,
    Page,
    PageCursor,
    PageLimit,
    decode_cursor,
    encode_cursor,
    newest_first,
    position_of,
)
from shared.problems import ProblemError, install_problem_handlers

CREATED = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def canonical_uuid(text: str) -> str:
    return str(uuid.UUID(text))


def forged(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class Thing(BaseModel):
    id: str
    created_at: datetime


class ThingPage(Page[Thing]):
    """One page of things."""


def thing_of(row: dict[str, Any]) -> Thing:
    return Thing(id=row["id"], created_at=row["created_at"])


def rows(count: int) -> list[dict[str, Any]]:
    return [{"id": f"t{i}", "created_at": CREATED - timedelta(seconds=i)} for i in range(count)]


@pytest.mark.parametrize(
    ("created_at", "item_id"),
    [
        (CREATED, "sim-1"),
        (CREATED, "a|b|c"),
        (datetime(2025, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5))), "x"),
        (CREATED, "ünïcode"),
    ],
)
def test_a_cursor_names_its_position_again(created_at: datetime, item_id: str) -> None:
    cursor = encode_cursor(created_at, item_id)
    assert "=" not in cursor and "+" not in cursor and "/" not in cursor
    assert decode_cursor(cursor) == (created_at, item_id)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage!",
        encode_cursor(CREATED, "x")[:-3] + "@@@",
        forged(b"no separator"),
        forged(b"yesterday|sim-1"),
        forged(b"2026-01-02T03:04:05|sim-1"),  # no time zone
        forged(CREATED.isoformat().encode() + b"|"),  # no id
        forged(b"\xff\xfe|sim-1"),
    ],
)
def test_anything_else_is_not_a_cursor(cursor: str) -> None:
    with pytest.raises(ValueError, match=NOT_A_CURSOR):
        decode_cursor(cursor)


def test_an_id_parser_canonicalises_and_refuses_ids() -> None:
    policy_id = uuid.uuid4()
    shouted = encode_cursor(CREATED, str(policy_id).upper())
    assert decode_cursor(shouted, canonical_uuid) == (CREATED, str(policy_id))
    with pytest.raises(ValueError, match=NOT_A_CURSOR):
        decode_cursor(encode_cursor(CREATED, "not-a-uuid"), canonical_uuid)


def test_a_missing_cursor_asks_for_the_first_page() -> None:
    assert position_of(None) is None
    assert position_of(encode_cursor(CREATED, "t1")) == (CREATED, "t1")


def test_a_bad_cursor_is_a_422_on_the_cursor_field() -> None:
    with pytest.raises(ProblemError) as raised:
        position_of(encode_cursor(CREATED, "not-a-uuid"), canonical_uuid)
    problem = raised.value
    assert problem.status == 422
    assert [(e.field, e.message) for e in problem.errors] == [("cursor", NOT_A_CURSOR)]


def test_the_extra_row_only_says_that_another_page_exists() -> None:
    fetched = rows(3)
    page = ThingPage.of_rows(fetched, 2, thing_of)
    assert isinstance(page, ThingPage)
    assert [item.id for item in page.items] == ["t0", "t1"]
    assert page.next_cursor is not None
    assert decode_cursor(page.next_cursor) == (fetched[1]["created_at"], "t1")


@pytest.mark.parametrize("count", [0, 1, 2])
def test_the_last_page_has_no_cursor(count: int) -> None:
    page = ThingPage.of_rows(rows(count), 2, thing_of)
    assert len(page.items) == count
    assert page.next_cursor is None


def test_the_cursor_carries_a_non_string_id_as_text() -> None:
    policy_id = uuid.uuid4()
    fetched = [
        {"id": policy_id, "created_at": CREATED},
        {"id": uuid.uuid4(), "created_at": CREATED},
    ]
    page = Page[str].of_rows(fetched, 1, lambda row: str(row["id"]))
    assert page.items == [str(policy_id)]
    assert page.next_cursor is not None
    assert decode_cursor(page.next_cursor) == (CREATED, str(policy_id))


def test_a_page_reads_as_items_and_next_cursor() -> None:
    page = ThingPage.of_rows(rows(2), 1, thing_of)
    assert page.model_dump(mode="json") == {
        "items": [{"id": "t0", "created_at": CREATED.isoformat().replace("+00:00", "Z")}],
        "next_cursor": page.next_cursor,
    }
    schema = ThingPage.model_json_schema()
    assert schema["title"] == "ThingPage"
    assert schema["description"] == "One page of things."
    assert schema["required"] == ["items"]


POSTGRES = pg.dialect()  # type: ignore[no-untyped-call]
metadata = sa.MetaData()
things = sa.Table(
    "things",
    metadata,
    sa.Column("id", pg.UUID(as_uuid=False), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


def test_the_query_reads_newest_first() -> None:
    statement = newest_first(sa.select(things), things, None)
    sql = str(statement.compile(dialect=POSTGRES))
    assert "ORDER BY things.created_at DESC, things.id DESC" in sql
    assert "WHERE" not in sql


def test_the_query_starts_just_after_the_position_with_the_columns_types() -> None:
    after = (CREATED, str(uuid.uuid4()))
    statement = newest_first(sa.select(things).where(things.c.id.is_not(None)), things, after)
    compiled = statement.compile(dialect=POSTGRES)
    assert "(things.created_at, things.id) < (" in str(compiled)
    assert "ORDER BY things.created_at DESC, things.id DESC" in str(compiled)
    typed = {type(bind.type) for bind in compiled.binds.values() if bind.value in after}
    assert typed == {sa.DateTime, pg.UUID}
    assert sorted(map(str, compiled.params.values())) == sorted(map(str, after))


@pytest.fixture
async def listing() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/things")
    async def list_things(limit: PageLimit = DEFAULT_PAGE, cursor: PageCursor = None) -> Any:
        after = position_of(cursor)
        return {"limit": limit, "after": after[1] if after else None}

    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://things") as client:
        yield client


async def test_the_query_parameters_bound_the_limit_and_read_the_cursor(
    listing: httpx.AsyncClient,
) -> None:
    assert (await listing.get("/things")).json() == {"limit": DEFAULT_PAGE, "after": None}
    cursor = encode_cursor(CREATED, "t7")
    answer = await listing.get("/things", params={"limit": MAX_PAGE, "cursor": cursor})
    assert answer.json() == {"limit": MAX_PAGE, "after": "t7"}
    for limit in (0, MAX_PAGE + 1):
        refused = await listing.get("/things", params={"limit": limit})
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "query.limit"


async def test_a_bad_cursor_answers_a_problem(listing: httpx.AsyncClient) -> None:
    answer = await listing.get("/things", params={"cursor": "garbage!"})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"] == [{"field": "cursor", "message": NOT_A_CURSOR}]
