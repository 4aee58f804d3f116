"""The `sort` parameter of list routes: which way the keyset pages run.

Lists page on `(created_at, id)` (shared/pagination.py); `sort=-created_at`, the
default, lists newest first and `sort=created_at` oldest first. The same cursor
format serves both directions, so a cursor is only meaningful with the sort that
made it.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import sqlalchemy as sa
from fastapi import Query

from shared.pagination import Position
from shared.problems import FieldError, invalid

NEWEST_FIRST = "-created_at"
OLDEST_FIRST = "created_at"
SORTS = (NEWEST_FIRST, OLDEST_FIRST)

Sort = Annotated[
    str,
    Query(
        description="`-created_at` (newest first, the default) or `created_at` (oldest first)",
        max_length=64,
    ),
]
Statement = TypeVar("Statement", bound=sa.Select[Any])


def is_descending(sort: str) -> bool:
    """True for newest first; a 422 problem naming `sort` for an unknown order."""
    if sort not in SORTS:
        raise invalid(
            [FieldError(field="sort", message=f"must be one of {', '.join(SORTS)}, not {sort!r}")]
        )
    return sort == NEWEST_FIRST


def in_order(statement: Statement, table: sa.Table, sort: str, after: Position | None) -> Statement:
    """`statement` over `table` in the `sort` order, from just after `after` if given."""
    descending = is_descending(sort)
    created_at, row_id = table.c.created_at, table.c.id
    if descending:
        statement = statement.order_by(created_at.desc(), row_id.desc())
    else:
        statement = statement.order_by(created_at.asc(), row_id.asc())
    if after is None:
        return statement
    here = sa.tuple_(created_at, row_id)
    # Typed literals: an untyped string would not compare with a UUID column.
    there = sa.tuple_(sa.literal(after[0], created_at.type), sa.literal(after[1], row_id.type))
    return statement.where(here < there if descending else here > there)
