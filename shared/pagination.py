"""Keyset pagination of list routes, newest first, the same in every service.

A list reads `limit + 1` rows ordered by `(created_at, id)` descending: the extra
row only says that another page exists. The page's `next_cursor` names the
`(created_at, id)` of its last row, the position the next page starts after, so
rows inserted meanwhile neither shift nor repeat the pages that follow.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, Self, TypeVar

import sqlalchemy as sa
from fastapi import Query
from pydantic import BaseModel

from shared.problems import FieldError, invalid

MAX_PAGE = 100
DEFAULT_PAGE = 20
NOT_A_CURSOR = "not a cursor from this API"

# The `(created_at, id)` of the row a page starts after.
Position = tuple[datetime, str]
IdParser = Callable[[str], str]

PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
PageCursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]

Item = TypeVar("Item")
Row = TypeVar("Row", bound=Mapping[Any, Any])
Statement = TypeVar("Statement", bound=sa.Select[Any])


def encode_cursor(created_at: datetime, item_id: str) -> str:
    raw = f"{created_at.isoformat()}|{item_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _non_empty(item_id: str) -> str:
    if not item_id:
        raise ValueError("no id")
    return item_id


def decode_cursor(cursor: str, parse_id: IdParser = _non_empty) -> Position:
    """The position a cursor names; ValueError if it is not one `encode_cursor` made.

    `parse_id` turns the cursor's id into the form the table holds, raising ValueError
    for one that cannot be an id at all (a UUID column, say), so that a forged cursor
    is refused here rather than by the database.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, item_id = raw.split("|", 1)
        position = datetime.fromisoformat(created_at), parse_id(item_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(NOT_A_CURSOR) from exc
    if position[0].tzinfo is None:
        raise ValueError(NOT_A_CURSOR)
    return position


def position_of(cursor: str | None, parse_id: IdParser = _non_empty) -> Position | None:
    """Where the requested page starts: None for the first, a 422 problem for a bad cursor."""
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor, parse_id)
    except ValueError as exc:
        raise invalid([FieldError(field="cursor", message=str(exc))]) from exc


def newest_first(statement: Statement, table: sa.Table, after: Position | None) -> Statement:
    """`statement` over `table` ordered newest first, from just after `after` if given."""
    created_at, row_id = table.c.created_at, table.c.id
    statement = statement.order_by(created_at.desc(), row_id.desc())
    if after is None:
        return statement
    # Typed literals: an untyped string would not compare with a UUID column.
    return statement.where(
        sa.tuple_(created_at, row_id)
        < sa.tuple_(sa.literal(after[0], created_at.type), sa.literal(after[1], row_id.type))
    )


class Page(BaseModel, Generic[Item]):
    """One page of items, newest first; pass `next_cursor` back for the next page."""

    items: list[Item]
    next_cursor: str | None = None

    @classmethod
    def of_rows(cls, rows: Sequence[Row], limit: int, item_of: Callable[[Row], Item]) -> Self:
        """The page from up to `limit + 1` rows, each with `created_at` and `id` columns."""
        shown = rows[:limit]
        next_cursor = None
        if len(rows) > limit and shown:
            last = shown[-1]
            next_cursor = encode_cursor(last["created_at"], str(last["id"]))
        return cls(items=[item_of(row) for row in shown], next_cursor=next_cursor)
